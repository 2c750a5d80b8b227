"""hscode feedback add|import|export: brokers' confirmed codes, stored as SageMaker ground truth, and the training CSV.

The checks are the server's (pipelines/serving/feedback.py): HS 2022 with data preparation's "did you mean",
duplicates, corrections, and inference ids looked up in the capture files. An invalid code is bad input (exit 2);
`import` exits 2 only when nothing was recorded; `export` exits 2 when there is nothing to export.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

from pipelines import settings
from pipelines.serving.capture import CapturedIds
from pipelines.serving.feedback import (
    FEEDBACK_CSV,
    FeedbackReport,
    LocalGroundTruthSink,
    check_feedback,
    export_training_csv,
    ground_truth_record,
)
from steps.hsml.cli_errors import UsageError
from steps.hsml.csv_reader import COLUMN_ALIASES
from steps.hsml.hs_codes import HSCodeNormalizer, load_hs6_codes

# Header names accepted for each column of an import file (lower case, runs of space/_/- as one space).
IMPORT_ALIASES = {
    "inference_id": ("inference id", "inferenceid", "inference", "id", "event id", "eventid", "row id",
                     "prediction id"),
    "hs_code": COLUMN_ALIASES["hs_code"],
}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "feedback", help="record brokers' confirmed codes (ground truth) and export them as training data",
        description="Ground truth in SageMaker's format under <ground-truth-dir>/yyyy/mm/dd/hh/, joined by inference "
        "id with the captured requests of `hscode serve` (docs/serving.md).")
    actions = parser.add_subparsers(dest="feedback_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="record one confirmed or corrected code",
                             description="Checks the code (HS 2022), records it for the inference id the endpoint "
                             "answered with, warns when that id is not in the capture.")
    add.add_argument("inference_id", metavar="INFERENCE_ID", help="the row's inference_id from the prediction")
    add.add_argument("hs_code", metavar="HS_CODE", help="the 6-digit HS 2022 subheading (6109.10, 610910, ...)")
    _common(add, capture=True)
    add.set_defaults(handler=_add)

    load = actions.add_parser("import", help="record a CSV of inference_id,hs_code rows",
                              description="One line per row that is not a plain accept, then the counts. Invalid "
                              "rows are written whole, beside the reason, to <file>.rejected.csv: fix and import it "
                              "again. Exit 0 when anything was recorded, 2 when nothing was.")
    load.add_argument("file", metavar="FILE.csv", help="columns inference_id,hs_code (header aliases accepted)")
    _common(load, capture=True)
    load.set_defaults(handler=_import)

    export = actions.add_parser("export", help="join feedback with captured descriptions into a training CSV",
                                description=f"Writes DIR/{FEEDBACK_CSV} (description,hs_code,source=feedback), one "
                                "row per labelled captured description, for the pipeline's Preprocess.")
    export.add_argument("--out", required=True, metavar="DIR", help="output folder")
    export.add_argument("--since", help="only requests captured at or after this UTC time (2026-12-01 or "
                        "2026-12-01T20:00)")
    export.add_argument("--endpoint-name", help="only this endpoint's capture (default: every endpoint)")
    _common(export, capture=True, nomenclature=False)
    export.set_defaults(handler=_export)


def _common(parser, capture: bool, nomenclature: bool = True) -> None:
    parser.add_argument("--ground-truth-dir", help="ground-truth root (default $HSCODE_HOME/ground-truth)")
    if capture:
        parser.add_argument("--capture-dir", help="capture root (default $HSCODE_HOME/capture)")
    if nomenclature:
        parser.add_argument("--nomenclature", default=str(settings.HS2022_NOMENCLATURE),
                            help="HS 2022 list (default: the bundled %(default)s)")
        parser.add_argument("--json", action="store_true", help="the full report as JSON on stdout")


def _ground_truth_dir(args) -> Path:
    return Path(args.ground_truth_dir) if args.ground_truth_dir else settings.hscode_home() / "ground-truth"


def _capture_dir(args) -> Path:
    return Path(args.capture_dir) if args.capture_dir else settings.hscode_home() / "capture"


def _record(args, items: list) -> FeedbackReport:
    """Check the items against HS 2022, the stored labels and the capture; store the accepted ones."""
    normalizer = HSCodeNormalizer(load_hs6_codes(args.nomenclature))
    sink = LocalGroundTruthSink(_ground_truth_dir(args))
    ids = [i["inference_id"] for i in items if isinstance(i.get("inference_id"), str)]
    report = check_feedback(items, normalizer, CapturedIds(_capture_dir(args)), existing=sink.labels(ids))
    for item in report.accepted():
        sink.write(ground_truth_record(item["inference_id"], item["hs_code"]))
    sink.close()
    return report


def _add(args) -> int:
    (item,) = _record(args, [{"inference_id": args.inference_id, "hs_code": args.hs_code}]).items
    if args.json:
        print(json.dumps(item, indent=2))
    if item["status"] == "invalid":
        raise UsageError(item["message"])
    if item["unknown_inference_id"]:
        _warn(f"inference id {item['inference_id']} is not in the capture under {_capture_dir(args)} "
              "(a typo, or served by another endpoint?); recorded anyway")
    if not args.json:
        print(item["message"] if item["status"] == "accepted" else f"nothing recorded: {item['message']}")
    return 0


def _import(args) -> int:
    path = Path(args.file)
    header, rows = _read_import_file(path)
    columns = _import_columns(path, header)
    items, shapes = [], []
    for line, fields in rows:
        if len(fields) != len(header):
            shapes.append((line, fields, f"row has {len(fields)} fields, the header has {len(header)}"))
            continue
        items.append((line, fields, {name: fields[index] for name, index in columns.items()}))
    report = _record(args, [item for _, _, item in items])
    results = sorted([{"line": line, "status": "invalid", "message": message, "fields": fields}
                      for line, fields, message in shapes]
                     + [{"line": line, **result, "fields": fields}
                        for (line, fields, _), result in zip(items, report.items)], key=lambda r: r["line"])
    rejected = [r for r in results if r["status"] == "invalid"]
    rejected_path = path.with_name(f"{path.name.removesuffix('.csv')}.rejected.csv")
    if rejected:
        _write_rejected(rejected_path, header, rejected)
    counts = report.counts()
    counts["invalid"] += len(shapes)
    counts["submitted"] += len(shapes)
    if args.json:
        print(json.dumps({"results": [{k: v for k, v in r.items() if k != "fields"} for r in results],
                          "counts": counts, "rejected_file": str(rejected_path) if rejected else None}, indent=2))
    else:
        for result in results:
            if _row_line(result):
                print(f"line {result['line']}: {_row_line(result)}")
        print(f"{path}: {counts['accepted']} recorded ({counts['corrections']} corrections), {counts['duplicate']} "
              f"duplicates, {counts['invalid']} invalid, {counts['unknown_inference_id']} with an inference id not "
              f"in the capture, of {counts['submitted']} rows")
    if rejected:
        _warn(f"{len(rejected)} invalid rows written with their reason to {rejected_path}: fix them and import "
              "that file again")
    if not counts["accepted"]:
        raise UsageError(f"nothing recorded from {path}: {counts['invalid']} invalid, {counts['duplicate']} "
                         "duplicate rows")
    return 0


def _row_line(result: dict) -> str | None:
    """The report line of one row, or None for a plain accept."""
    if result["status"] != "accepted":
        return f"{result['status']}: {result['message']}"
    if result.get("warning"):
        return f"{result['message']}; warning: {result['warning']}"
    return result["message"] if result.get("correction") else None


def _read_import_file(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    lines = text.splitlines()
    if not lines:
        raise UsageError(f"{path} is empty: expected a header inference_id,hs_code and one row per label")
    delimiter = max((",", ";", "\t"), key=lambda d: len(next(csv.reader([lines[0]], delimiter=d))))
    reader = csv.reader(lines, delimiter=delimiter)
    header = next(reader)
    rows = [(reader.line_num, fields) for fields in reader if any(f.strip() for f in fields)]
    return header, rows


def _import_columns(path: Path, header: list[str]) -> dict[str, int]:
    canonical = [re.sub(r"[\s_\-]+", " ", name.strip().strip('"')).strip().lower() for name in header]
    columns = {}
    for column, aliases in IMPORT_ALIASES.items():
        exact = column.replace("_", " ")
        matches = [i for i, name in enumerate(canonical) if name == exact] or \
                  [i for i, name in enumerate(canonical) if name in aliases]
        if not matches:
            raise UsageError(f"{path}: no {column} column in the header {header}; expected inference_id,hs_code "
                             f"(or one of: {', '.join(aliases)})")
        columns[column] = matches[0]
    return columns


def _write_rejected(path: Path, header: list[str], rejected: list[dict]) -> None:
    """Each rejected row whole, after its line number and reason; the file imports again once fixed."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["line", "reason", *header])
        for result in rejected:
            writer.writerow([result["line"], result["message"], *result["fields"]])


def _export(args) -> int:
    since = _parse_since(args.since) if args.since else None
    capture_dir, truth_dir = _capture_dir(args), _ground_truth_dir(args)
    path, counts = export_training_csv(capture_dir, truth_dir, args.out, since=since, endpoint=args.endpoint_name)
    if not counts["joined"]:
        path.unlink(missing_ok=True)
        raise UsageError(f"nothing to export: {counts['labels']} labels under {truth_dir}, none of them with a "
                         f"captured description under {capture_dir}" + (f" since {args.since}" if since else "")
                         + "; record feedback with `hscode feedback add` for ids `hscode serve` answered with")
    print(f"wrote {counts['joined']} rows to {path}: {counts['labels']} labels, {counts['joined']} joined with their "
          f"captured description, {counts['without_description']} without one, {counts['unusable_description']} "
          f"whose captured row was not text, {counts['corrections']} corrected")
    if counts["missing_ids"]:
        print(f"  labels without a captured description, e.g.: {', '.join(counts['missing_ids'])}")
    from pipelines.local.offline import OFFLINE_BUCKET

    local_input = settings.hscode_home() / "store" / OFFLINE_BUCKET / "hs-code" / "data"
    print(f"to retrain on it, put it beside the training data the pipeline's InputDataUri names: locally "
          f"`cp {path} {local_input}/` then `hscode pipeline run --local`; on AWS upload it under the data bucket's "
          "training-data/ prefix, then its _SUCCESS marker (docs/pipeline.md, \"Retraining\")")
    return 0


def _parse_since(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r} is not a date or time: use e.g. 2026-12-01 or 2026-12-01T20:00 "
                         "(UTC unless an offset is given)") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)
