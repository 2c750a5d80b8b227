"""A forgiving CSV reader for labelled descriptions: one bad line costs one row, never the whole file.

Files come from spreadsheets and legacy systems: UTF-8 with or without a BOM, Windows-1252 ("latin-1"), both
mixed in one file after a copy-paste, UTF-16 from Excel's "Unicode text", semicolons instead of commas,
stray quotes, blank lines. So the reader works on bytes and decodes each physical line on its own:
UTF-8 first, then Windows-1252 (counted as a fallback). A line that is neither (bytes undefined in
Windows-1252, NUL bytes) becomes a rejected record, with its line number.

Every data record comes back as a `RawRecord` (line number, fields or a rejection reason), so the caller can
account for every line. Each record also keeps every column as read (`as_read`), or, when it cannot be split
into the header's columns, its text (`raw`), so a rejected row can be written out whole, corrected and fed back.
Problems with the file as a whole (unreadable gzip, no recognisable header) raise `InputFileError` with a
message that says what was expected.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from steps.hsml.cli_errors import UsageError

# Header names (lower-cased, runs of space/underscore/hyphen as one space) accepted for each column.
COLUMN_ALIASES = {
    "description": ("description", "goods description", "product description", "item description",
                    "commodity description", "desc", "text", "product", "goods", "item"),
    "hs_code": ("hs code", "hscode", "hs6", "hs 6", "commodity code", "tariff code", "hts code", "hts",
                "code", "hs", "cn code", "taric code"),
    "split": ("split",),
    "source": ("source",),
}
REQUIRED_COLUMNS = ("description", "hs_code")
# A quoted field may legitimately span lines; a stray quote must not swallow the rest of the file.
MAX_LINES_PER_RECORD = 20


class InputFileError(UsageError):
    """The file as a whole cannot be read (no rows could be trusted)."""


@dataclass
class RawRecord:
    line: int  # 1-based physical line where the record starts (the header is line 1)
    fields: dict[str, str] = field(default_factory=dict)  # the recognised columns, by canonical name
    reason: str | None = None  # set when the record is rejected while reading
    detail: str = ""
    raw: str = ""  # the record's text, kept when it could not be split into the header's columns
    as_read: dict[str, str] = field(default_factory=dict)  # every column as read, by ReadResult.column_names


@dataclass
class ReadResult:
    path: Path
    sha256: str
    encoding_fallback_lines: int  # lines decoded as Windows-1252 because they were not UTF-8
    delimiter: str
    columns: dict[str, int]  # canonical column -> index in the file
    ignored_columns: list[str]
    records: list[RawRecord]
    utf16: bool = False
    column_names: list[str] = field(default_factory=list)  # per position: canonical name, else the header's (unique)


def _canonical_header(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.strip().strip('"').lstrip("\ufeff")).strip().lower()


_ALIAS_TO_COLUMN = {alias: column for column, aliases in COLUMN_ALIASES.items() for alias in aliases}


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz") or data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as error:
            raise InputFileError(f"{path}: not a readable gzip file ({error}); re-compress it or pass the plain CSV") from error
    return data


@dataclass(frozen=True)
class Undecodable:
    """A line that is neither UTF-8 nor Windows-1252: its bytes, shown with escapes where they cannot be read."""
    data: bytes

    def shown(self) -> str:
        return self.data.decode("utf-8", errors="backslashreplace")


def _split_lines(data: bytes) -> tuple[list[str | Undecodable], int, bool]:
    """Decode line by line. Returns (lines, fallback count, utf16); an undecodable line is an Undecodable."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16 (Excel "Unicode text"): decode the file as a whole
        text = data.decode("utf-16", errors="replace")
        return text.splitlines(), 0, True
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the newline that ends the last line does not start another one
    lines: list[str | Undecodable] = []
    fallbacks = 0
    for raw in raw_lines:
        raw = raw.rstrip(b"\r")
        if b"\x00" in raw:
            lines.append(Undecodable(raw))
            continue
        try:
            lines.append(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            try:
                lines.append(raw.decode("cp1252"))
                fallbacks += 1
            except UnicodeDecodeError:
                lines.append(Undecodable(raw))
    return lines, fallbacks, False


def _find_columns(path: Path, header: str) -> tuple[str, dict[str, int], list[str]]:
    """Pick the delimiter under which the header names the required columns; else explain what was found."""
    best: tuple[str, list[str]] | None = None
    for delimiter in (",", ";", "\t", "|"):
        names = next(csv.reader([header], delimiter=delimiter))
        columns: dict[str, int] = {}
        ignored = []
        for index, name in enumerate(names):
            canonical = _ALIAS_TO_COLUMN.get(_canonical_header(name))
            if canonical and canonical not in columns:
                columns[canonical] = index
            elif canonical and _canonical_header(name) == canonical.replace("_", " "):
                columns[canonical] = index  # the exact name wins over an alias seen earlier
            else:
                ignored.append(name)
        if all(column in columns for column in REQUIRED_COLUMNS):
            return delimiter, columns, ignored
        if best is None or len(names) > len(best[1]):
            best = (delimiter, names)
    found = best[1] if best else []
    raise InputFileError(
        f"{path}: header must name the columns description,hs_code (also accepted, any case: "
        f"{', '.join(repr(a) for a in COLUMN_ALIASES['description'][1:4])} for description; "
        f"{', '.join(repr(a) for a in COLUMN_ALIASES['hs_code'][:5])} for hs_code); found {found!r}. "
        "Rename the columns or add a header line."
    )


def read_labelled_csv(path: str | Path) -> ReadResult:
    path = Path(path)
    data = _read_bytes(path)
    sha256 = hashlib.sha256(data).hexdigest()
    lines, fallbacks, utf16 = _split_lines(data)
    header_index = next((i for i, line in enumerate(lines) if isinstance(line, str) and line.strip()), None)
    if header_index is None:
        raise InputFileError(f"{path}: empty file (no header line with description,hs_code)")
    if header_index > 0:
        raise InputFileError(f"{path}: the first line must be the header description,hs_code (line 1 is blank "
                             "or unreadable)")
    delimiter, columns, ignored = _find_columns(path, lines[0].lstrip("\ufeff"))
    names = column_names(next(csv.reader([lines[0].lstrip("\ufeff")], delimiter=delimiter)), columns)
    records = list(_records(lines, delimiter, columns, names))
    return ReadResult(path, sha256, fallbacks, delimiter, columns, ignored, records, utf16, names)


def column_names(header: list[str], columns: dict[str, int]) -> list[str]:
    """A unique name per column position: the canonical name of a recognised column, else the header's own
    (stripped; "column 3" when blank; "notes 2" for a second "notes")."""
    canonical_at = {index: name for name, index in columns.items()}
    names: list[str] = []
    for index, header_name in enumerate(header):
        name = canonical_at.get(index) or header_name.strip().strip('"') or f"column {index + 1}"
        candidate, copy = name, 1
        while candidate in names or (index not in canonical_at and candidate in columns):
            copy += 1
            candidate = f"{name} {copy}"
        names.append(candidate)
    return names


def _records(lines: list[str | Undecodable], delimiter: str, columns: dict[str, int], names: list[str]):
    width = len(names)
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, 1 << 30))  # a 1 MB description is rejected as too long, not a crash
    try:
        i = 1
        while i < len(lines):
            line_number = i + 1
            line = lines[i]
            if isinstance(line, Undecodable):
                yield RawRecord(line_number, reason="undecodable", raw=line.shown(),
                                detail="bytes that are neither UTF-8 nor Windows-1252 (or NUL bytes; shown as "
                                       "\\x.. escapes); re-save the file as UTF-8")
                i += 1
                continue
            line = line.lstrip("\ufeff")  # a BOM in the middle: files concatenated with `cat`
            if not line.strip():
                yield RawRecord(line_number, reason="blank_line", detail="blank line")
                i += 1
                continue
            text, used = line, 1
            while text.count('"') % 2 and used < MAX_LINES_PER_RECORD and i + used < len(lines):
                following = lines[i + used]
                if isinstance(following, Undecodable):
                    break
                text, used = text + "\n" + following, used + 1
            if text.count('"') % 2:
                yield RawRecord(line_number, reason="unbalanced_quotes", raw=line,
                                detail='a quote (") opens a field that never closes; double quotes inside a '
                                       'quoted field ("") or remove it')
                i += 1
                continue
            i += used
            fields = next(csv.reader([text], delimiter=delimiter), [])
            if len(fields) != width:
                hint = " (an unquoted delimiter inside the description? quote the field)" if len(fields) > width else ""
                yield RawRecord(line_number, reason="wrong_field_count", raw=text,
                                detail=f"{len(fields)} fields, expected {width}{hint}")
                continue
            yield RawRecord(line_number, fields={name: fields[index] for name, index in columns.items()},
                            as_read=dict(zip(names, fields)))
    finally:
        csv.field_size_limit(old_limit)
