"""Which choices in the code saw test_fpo: the comments that say so, collected at run time and quoted verbatim.

The developers record in comments where a default was chosen on test_fpo figures (e.g. the DNN's defaults in
steps/hsml/hyperparameters.py). The bench quotes every `#` comment block that mentions test_fpo in the modules
that hold defaults, so accuracy.md follows the code instead of a list someone has to keep in step with it.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where model, data-preparation and baseline defaults live.
SCANNED = ("steps/hsml/*.py", "steps/*.py", "pipelines/hs_code/*.py", "bench/baselines.py",
           "bench/fasttext_baseline.py")
KEYWORD = "test_fpo"


def comment_blocks(text: str) -> list[tuple[int, str]]:
    """(first line number, joined text) of each run of consecutive `#` comment lines (inline comments included)."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        comment = stripped[1:].strip() if stripped.startswith("#") else None
        if comment is None and "  # " in line:  # an inline comment after code stands alone
            if current:
                blocks.append((start, " ".join(current)))
                current = []
            blocks.append((number, line.split("  # ", 1)[1].strip()))
            continue
        if comment is None:
            if current:
                blocks.append((start, " ".join(current)))
                current = []
            continue
        if not current:
            start = number
        current.append(comment)
    if current:
        blocks.append((start, " ".join(current)))
    return blocks


def recorded_test_fpo_choices(root: str | Path = ROOT, patterns=SCANNED) -> list[dict]:
    """[{"file": "steps/hsml/encoder.py", "line": 36, "text": "..."}] for every comment block naming test_fpo."""
    root = Path(root)
    found = []
    for pattern in patterns:
        for path in sorted(root.glob(pattern)):
            for line, block in comment_blocks(path.read_text(encoding="utf-8")):
                if KEYWORD in block:
                    found.append({"file": path.relative_to(root).as_posix(), "line": line, "text": block})
    return found
