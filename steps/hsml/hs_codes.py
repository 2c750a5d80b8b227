"""HS codes as people type them, turned into 6-digit HS 2022 subheadings (or a reason why not).

Rules (each one counted in report.json):
- Separators are ignored: `6109.10`, `6109 10`, `6109-10-00` and `610910` are the same code.
- 8- and 10-digit national codes (UK CN/TARIC, US HTS) keep their first 6 digits: `6109100010` -> `610910`.
- A float artefact from a spreadsheet (`610910.0`) loses its `.0`.
- Lost leading zero: Excel reads `010121` as the number 10121. A 5-, 7- or 9-digit code gets one leading zero
  back, but only when the result is a real HS 2022 subheading (chapters 01-09 are the only ones starting with 0);
  otherwise it is rejected, because `61091` is as likely a digit missing at the end.
- Everything else (4-digit headings, 3 or 11+ digits, letters, scientific notation) is rejected, with a
  "did you mean" suggestion when a valid code is one typo away.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from steps.hsml.cli_errors import UsageError

NOMENCLATURE_FILE = "hs2022_nomenclature.csv"
_SEPARATORS = re.compile(r"[\s.\-/]+")
_PREFIX = re.compile(r"^(?:hs|hts|cn)\s*(?:code)?\s*[:#]?\s*", re.IGNORECASE)
_FLOAT_ARTEFACT = re.compile(r"^(\d{5,})\.0+$")


@dataclass(frozen=True)
class CodeResult:
    """The outcome for one raw code: `code` when accepted, else `reason` (+ `detail` for the human)."""

    code: str | None
    reason: str | None = None
    detail: str = ""
    truncated: bool = False
    zero_padded: bool = False


def load_hs6_codes(reference: str | Path) -> dict[str, str]:
    """Level-6 codes of the WCO HS 2022 list -> their official description."""
    return load_hs_descriptions(reference, level="6")


def load_hs_descriptions(reference: str | Path, level: str) -> dict[str, str]:
    """Codes of one level of the WCO HS 2022 list ("2" chapters, "4" headings, "6" subheadings) -> descriptions.

    `reference` is the CSV itself or a directory holding `hs2022_nomenclature.csv` (the processing job's
    --reference-dir).
    """
    return load_hs_levels(reference, (level,))[level]


def load_hs_levels(reference: str | Path, levels: tuple[str, ...] = ("2", "4", "6")) -> dict[str, dict[str, str]]:
    """Each of `levels` -> {code: description}, from one pass over the nomenclature (see load_hs_descriptions)."""
    path = Path(reference)
    if path.is_dir():
        path = path / NOMENCLATURE_FILE
    if not path.is_file():
        raise UsageError(
            f"HS 2022 nomenclature not found at {path}: pass --reference-dir pointing to a folder with "
            f"{NOMENCLATURE_FILE} (the repository ships it as data/{NOMENCLATURE_FILE})"
        )
    by_level: dict[str, dict[str, str]] = {level: {} for level in levels}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["level"] in by_level:
                by_level[row["level"]][row["hscode"]] = row["description"]
    for level, codes in by_level.items():
        if not codes:
            raise UsageError(f"{path}: no level-{level} rows; "
                             "expected columns section,hscode,description,parent,level")
    return by_level


class HSCodeNormalizer:
    """Maps raw code strings onto valid HS 2022 subheadings, with typo suggestions for the rest."""

    def __init__(self, valid_codes: set[str] | dict[str, str]):
        self.valid_codes = set(valid_codes)
        self._by_heading: dict[str, list[str]] = {}
        for code in sorted(self.valid_codes):
            self._by_heading.setdefault(code[:4], []).append(code)

    def normalize(self, raw: str) -> CodeResult:
        text = raw.strip().strip('"').strip()
        if not text:
            return CodeResult(None, "empty_code", "hs_code is empty")
        if re.search(r"\d[eE][+-]?\d", text):
            return CodeResult(None, "code_scientific_notation",
                              f"hs_code {text!r} is in scientific notation (a spreadsheet turned it into a number "
                              "and lost digits); format the column as text and export again")
        text = _PREFIX.sub("", text)
        float_artefact = _FLOAT_ARTEFACT.match(text)
        if float_artefact:
            text = float_artefact.group(1)
        digits = _SEPARATORS.sub("", text)
        if not digits.isdigit():
            found = "".join(ch for ch in digits if ch.isdigit())
            hint = self._hint(found[:6]) if len(found) >= 6 else ""
            return CodeResult(None, "code_not_numeric", f"hs_code {raw.strip()!r} is not a number{hint}")
        zero_padded = False
        if len(digits) in (5, 7, 9):
            padded = "0" + digits
            if padded[:6] not in self.valid_codes:
                return CodeResult(None, "code_bad_length",
                                  f"hs_code {digits!r} has {len(digits)} digits; with its leading zero restored "
                                  f"({padded[:6]}) it is still not an HS 2022 subheading{self._hint(padded[:6])}")
            digits, zero_padded = padded, True
        if len(digits) == 4:
            return CodeResult(None, "code_is_heading",
                              f"hs_code {digits!r} is a 4-digit heading; a 6-digit subheading is needed"
                              f"{self._hint(digits)}")
        if len(digits) not in (6, 8, 10):
            return CodeResult(None, "code_bad_length",
                              f"hs_code {digits!r} has {len(digits)} digits; expected 6 (or 8/10, truncated to 6)")
        code = digits[:6]
        if code not in self.valid_codes:
            return CodeResult(None, "code_unknown",
                              f"hs_code {code} is not an HS 2022 subheading{self._hint(code)}")
        return CodeResult(code, truncated=len(digits) > 6, zero_padded=zero_padded)

    def suggestions(self, code: str, limit: int = 3) -> list[str]:
        """Valid codes one typo away (a changed or swapped digit), else the subheadings of the same heading."""
        if len(code) == 4:
            return self._by_heading.get(code, [])[:limit]
        found = []
        for i in range(len(code)):
            for digit in "0123456789":
                candidate = code[:i] + digit + code[i + 1:]
                if candidate != code and candidate in self.valid_codes:
                    found.append(candidate)
            if i + 1 < len(code):
                swapped = code[:i] + code[i + 1] + code[i] + code[i + 2:]
                if swapped != code and swapped in self.valid_codes:
                    found.append(swapped)
        if not found:
            found = self._by_heading.get(code[:4], [])
        return sorted(dict.fromkeys(found))[:limit]

    def _hint(self, code: str) -> str:
        options = self.suggestions(code)
        return f" (did you mean {' or '.join(options)}?)" if options else ""
