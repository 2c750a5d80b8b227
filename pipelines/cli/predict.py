"""hscode predict: top-k HS codes for descriptions, from a model.tar.gz, a model dir or the model registry.

    hscode predict --model model.tar.gz "mens cotton t-shirt" "stainless steel sink"
    hscode predict --model latest-approved --input items.csv --output predictions.csv -k 5
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from steps.hsml.cli_errors import UsageError, run_command

REGISTRY_REFS_HELP = "latest-approved, a model package ARN or a version number"
SHOWN_CHARS = 200  # a description longer than this is cut when printed (the CSV output keeps it whole)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict HS codes for descriptions (arguments or a CSV file)",
        description="Print the top-k HS 2022 codes, their names and probabilities for each description, or write "
        "a CSV with one row per input row (description, hs_code, probability, top_k, error).",
    )
    parser.add_argument("--model", required=True,
                        help=f"model.tar.gz, an extracted model dir, or a registry reference ({REGISTRY_REFS_HELP})")
    parser.add_argument("descriptions", nargs="*", help="product descriptions to classify")
    parser.add_argument("--input", help="CSV file with a description column (one prediction per row)")
    parser.add_argument("--column", default="description", help="the input CSV's text column (default %(default)s)")
    parser.add_argument("--output", help="write predictions to this CSV (default: print)")
    parser.add_argument("-k", "--top-k", dest="top_k", type=int, default=3, help="codes per description (default 3)")
    parser.set_defaults(handler=_predict)


def resolve_model_path(ref: str) -> Path:
    """A local path as is; otherwise a registry reference resolved to a local model.tar.gz."""
    path = Path(ref)
    if path.exists():
        return path
    if ref == "latest-approved" or ref.startswith("arn:") or ref.isdigit():
        try:
            from pipelines.registry import resolve_model_uri
            from pipelines.registry.model import RegistryError
        except ImportError as error:
            raise UsageError(f"cannot resolve model {ref!r}: the model registry (pipelines.registry."
                             f"resolve_model_uri) is not available ({error}); pass a model.tar.gz path") from error
        try:
            return Path(resolve_model_uri(ref))
        except RegistryError as error:
            raise UsageError(str(error)) from error
    raise UsageError(f"model {ref!r} not found: give a model.tar.gz, a model dir, or {REGISTRY_REFS_HELP}")


def hs_code_names() -> dict[str, str]:
    from pipelines.settings import HS2022_NOMENCLATURE
    from steps.hsml.hs_codes import load_hs6_codes

    return load_hs6_codes(HS2022_NOMENCLATURE)


def read_input_descriptions(path: str, column: str) -> list:
    import pandas as pd

    if not Path(path).is_file():
        raise UsageError(f"--input {path}: no such file; give a CSV with a {column!r} column")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if column not in frame.columns:
        raise UsageError(f"{path}: no column {column!r} (columns: {', '.join(frame.columns)}); use --column")
    return frame[column].tolist()


def write_predictions(path: str, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["description", "hs_code", "probability", "top_k", "error"])
        writer.writeheader()
        for row in rows:
            top = row["top_k"]
            writer.writerow({
                "description": row["description"],
                "hs_code": top[0][0] if top else "",
                "probability": f"{top[0][1]:.6f}" if top else "",
                "top_k": json.dumps([[code, round(p, 6)] for code, p in top]) if top else "",
                "error": row["error"] or "",
            })


def print_predictions(rows: list[dict], names: dict[str, str]) -> None:
    for row in rows:
        text = row["description"] if isinstance(row["description"], str) else repr(row["description"])
        print(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + f"… ({len(text):,} characters)")
        if row["error"]:
            print(f"  error: {row['error']}")
        for rank, (code, probability) in enumerate(row["top_k"], 1):
            print(f"  {rank}. {code}  {probability:6.1%}  {names.get(code, '(not in HS 2022)')}")


def _predict(args) -> int:
    return run_command("hscode predict", lambda: predict(args))


def predict(args) -> None:
    from steps.hsml.predictor import load_predictor

    if not args.descriptions and not args.input:
        raise UsageError("give descriptions as arguments or --input FILE.csv")
    if args.top_k < 1:
        raise UsageError("-k/--top-k must be at least 1")
    descriptions = list(args.descriptions) + (read_input_descriptions(args.input, args.column) if args.input else [])
    predictor = load_predictor(resolve_model_path(args.model))
    rows = predictor.predict_rows(descriptions, k=args.top_k)
    errors = sum(1 for row in rows if row["error"])
    if args.output:
        write_predictions(args.output, rows)
        print(f"wrote {len(rows)} predictions to {args.output} ({errors} rows with an error)")
    else:
        print_predictions(rows, hs_code_names())
    if rows and errors == len(rows):
        raise UsageError(f"none of the {len(rows)} descriptions could be classified; each row's error says why")
