"""How long something took, for people: `45.2s`, `3m07s`, `1h02m05s` (training ETAs, the local runner's lines)."""
from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """Seconds with a tenth under a minute, then whole seconds; "-" when the duration is unknown."""
    if seconds is None:
        return "-"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s"
