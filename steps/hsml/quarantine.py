"""rejected.csv: every row data preparation turned away, whole, beside the reason, ready to be fixed and fed back.

Columns: file, line, reason, detail (where the row came from and why it was rejected), then the row's own columns
as read (description, hs_code, split, source under those names, whatever the input called them, then any other
column of the input under its own header), then raw_record: the record's text when it could not be split into
the header's columns (wrong field count, unbalanced quotes, undecodable bytes), empty otherwise.

Correct a row in place (fix hs_code, or copy the pieces of raw_record into description and hs_code) and pass the
file back to `hscode data prepare`: its description, hs_code, split and source columns are read like any input,
and the other columns are ignored.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

LEAD_COLUMNS = ["file", "line", "reason", "detail"]
ROW_COLUMNS = ["description", "hs_code", "split", "source"]
RAW_COLUMN = "raw_record"


@dataclass
class Rejection:
    file: str
    line: int
    reason: str
    detail: str
    as_read: dict[str, str] = field(default_factory=dict)  # the row's columns as read (csv_reader's as_read)
    raw_record: str = ""  # the record's text when it has no columns


def output_names(rejections: list[Rejection]) -> dict[str, str]:
    """Input column name -> its rejected.csv column. description/hs_code/split/source keep their names; another
    column called like one of ours ("reason", "file", or ours from a rejected.csv fed back) becomes
    "input <name>", so no value is lost or overwritten. The same input name maps to the same column in every row."""
    used = set(LEAD_COLUMNS) | set(ROW_COLUMNS) | {RAW_COLUMN}
    names: dict[str, str] = {name: name for name in ROW_COLUMNS}
    for rejection in rejections:
        for name in rejection.as_read:
            if name in names:
                continue
            candidate = name
            while candidate in used:
                candidate = f"input {candidate}"
            names[name] = candidate
            used.add(candidate)
    return names


def write_rejected(path: str | Path, rejections: list[Rejection]) -> Path:
    """rejected.csv, rows in the order given."""
    path = Path(path)
    names = output_names(rejections)
    extra = [column for name, column in names.items() if name not in ROW_COLUMNS]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LEAD_COLUMNS + ROW_COLUMNS + extra + [RAW_COLUMN], restval="")
        writer.writeheader()
        for r in rejections:
            writer.writerow({**{names[name]: value for name, value in r.as_read.items()}, "file": r.file,
                             "line": r.line, "reason": r.reason, "detail": r.detail, RAW_COLUMN: r.raw_record})
    return path
