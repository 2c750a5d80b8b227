"""hscode predict: top-k HS codes for descriptions, from a model.tar.gz, a model dir or the model registry.

    hscode predict --model model.tar.gz "mens cotton t-shirt" "stainless steel sink"
    hscode predict --model latest-approved --input items.csv --output predictions.csv -k 5
    hscode predict --model latest-approved --explain "mens cotton t-shirt"

Each row also gets the answer of steps/hsml/hierarchy.py (docs/predictions.md): the deepest level (HS6, HS4, HS2)
whose top probability reaches its threshold, or none ("too vague to classify" when the model's vague detector
refuses it), and the answer set (codes until their cumulative probability reaches --set-level). The thresholds
are the registry version's accept_threshold, accept_threshold_hs4 and accept_threshold_hs2, or --thresholds.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

from steps.hsml.cli_errors import UsageError, run_command
from steps.hsml.hierarchy import DEFAULT_SET_LEVEL, LEVELS, thresholds_from_metrics

REGISTRY_REFS_HELP = "latest-approved, a model package ARN or a version number"
CSV_COLUMNS = ["description", "hs_code", "probability", "top_k", "error",  # the first five as before
               "answer_level", "answer_code", "answer_reason", "answer_set", "vague_score", "explanation"]
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
    parser.add_argument("--thresholds", help="HS6,HS4,HS2 thresholds for the answer, e.g. 0.93,0.9,0.85 (default: "
                        "the registry version's accept_threshold[_hs4|_hs2]; a model path has none: no level is sure)")
    parser.add_argument("--set-level", type=float, default=DEFAULT_SET_LEVEL,
                        help="the answer set lists codes until their probabilities sum to this (default %(default)s)")
    parser.add_argument("--explain", action="store_true",
                        help="for the top codes, the words that weighed most (occlusion) and the HS 2022 text")
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
    """Code of every level (chapter, heading, subheading) -> its official HS 2022 text."""
    from pipelines.serving.frontend import load_hs_texts
    from pipelines.settings import HS2022_NOMENCLATURE

    return load_hs_texts(HS2022_NOMENCLATURE)


def parse_thresholds(text: str) -> dict[str, float | None]:
    """--thresholds HS6,HS4,HS2 (a blank one: that level is never the answer)."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(LEVELS):
        raise UsageError(f"--thresholds {text!r}: give three values, HS6,HS4,HS2 (e.g. 0.93,0.9,0.85)")
    found: dict[str, float | None] = {}
    for level, part in zip(LEVELS, parts):
        try:
            found[level] = float(part) if part else None
        except ValueError:
            raise UsageError(f"--thresholds {text!r}: {part!r} is not a number") from None
        if found[level] is not None and not 0 <= found[level] <= 1.01:
            raise UsageError(f"--thresholds {text!r}: {part} is not a probability")
    return found


def registry_thresholds(ref: str) -> dict[str, float | None]:
    """The registry version's per-level thresholds ({} for a path, or a registry that cannot say)."""
    if Path(ref).exists():
        return {}
    try:
        from pipelines.registry import get_registry, resolve_version

        return thresholds_from_metrics(resolve_version(ref, registry=get_registry("local")).metrics)
    except Exception:  # resolve_model_path already resolved it; a registry without metrics has no thresholds
        return {}


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
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            top = row["top_k"]
            answer = (row.get("answer") or {}).get("answer") or {}
            writer.writerow({
                "description": row["description"],
                "hs_code": top[0][0] if top else "",
                "probability": f"{top[0][1]:.6f}" if top else "",
                "top_k": json.dumps([[code, round(p, 6)] for code, p in top]) if top else "",
                "error": row["error"] or "",
                "answer_level": answer.get("level", ""),
                "answer_code": answer.get("code") or "",
                "answer_reason": answer.get("reason", ""),
                "answer_set": json.dumps((row.get("answer") or {}).get("answer_set", [])) if top else "",
                "vague_score": "" if row.get("vague_score") is None else f"{row['vague_score']:.4f}",
                "explanation": json.dumps(row["explanation"]) if row.get("explanation") else "",
            })


def print_predictions(rows: list[dict], names: dict[str, str]) -> None:
    for row in rows:
        text = row["description"] if isinstance(row["description"], str) else repr(row["description"])
        print(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + f"… ({len(text):,} characters)")
        if row["error"]:
            print(f"  error: {row['error']}")
        fields = row.get("answer")
        if fields:
            answer = fields["answer"]
            named = f"{answer['level'].upper()} {answer['code']}  {names.get(answer['code'], '')}".rstrip()
            print(f"  answer: {named if answer['code'] else 'none'} ({answer['reason']})")
            if fields["answer_set"]:
                print(f"  answer set (p={fields['answer_set_probability']:.2f}): {', '.join(fields['answer_set'])}")
        for rank, (code, probability) in enumerate(row["top_k"], 1):
            print(f"  {rank}. {code}  {probability:6.1%}  {names.get(code, '(not in HS 2022)')}")
        for explained in row.get("explanation") or []:
            words = ", ".join(f"{t['token']} ({t['weight']:+.2f})" for t in explained["tokens"]) or "(no word)"
            print(f"  why {explained['code']}: {words}")


def _predict(args) -> int:
    return run_command("hscode predict", lambda: predict(args))


def predict(args) -> None:
    from steps.hsml.predictor import load_predictor

    if not args.descriptions and not args.input:
        raise UsageError("give descriptions as arguments or --input FILE.csv")
    if args.top_k < 1:
        raise UsageError("-k/--top-k must be at least 1")
    if not 0 < args.set_level <= 1:
        raise UsageError(f"--set-level {args.set_level}: give a probability above 0, at most 1")
    descriptions = list(args.descriptions) + (read_input_descriptions(args.input, args.column) if args.input else [])
    path = resolve_model_path(args.model)
    thresholds = parse_thresholds(args.thresholds) if args.thresholds else registry_thresholds(args.model)
    predictor = load_predictor(path)
    rows = predictor.predict_rows(descriptions, k=args.top_k, thresholds=thresholds, set_level=args.set_level,
                                  explain=args.explain)
    errors = sum(1 for row in rows if row["error"])
    if args.output:
        write_predictions(args.output, rows)
        print(f"wrote {len(rows)} predictions to {args.output} ({errors} rows with an error)")
    else:
        print_predictions(rows, hs_code_names())
    if rows and errors == len(rows):
        raise UsageError(f"none of the {len(rows)} descriptions could be classified; each row's error says why")
