"""Data preparation: labelled CSVs in; splits, quarantine, encoder, profile and report out.

The body of the pipeline's Preprocess step (steps/preprocess.py) and of `hscode data prepare INPUT... --out DIR`.
Reads every *.csv / *.csv.gz of labelled descriptions (description,hs_code[,split,source]), validates every
row, normalises text and codes, deduplicates, splits train/validation/test, up-samples rare training classes,
fits the text encoder on the training split and writes, flat into the output folder:
train.csv, validation.csv, test.csv, rejected.csv, encoder.json, report.json, profile.json, and vagueness.json
(the "too vague to classify" detector, steps/hsml/vagueness_training.py) when the reference folder holds
HMRC's vague terms (hmrc_vague_terms.csv; the pipeline stages it to ReferenceDataUri with the nomenclature).

Every input row is accounted for: rows_read = kept + rejected + duplicates + excluded (excluded is the
official nomenclature rows --nomenclature leaves out: by default all but the subheadings' own texts). A bad row is rejected on its own,
whole (steps/hsml/quarantine.py), and never stops the others. The rules live in the hsml modules (hs_codes,
csv_reader, validation, deduplication, splitting, upsampling, profile); this module wires them together.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from steps.hsml import splitting
from steps.hsml.cli_errors import UsageError
from steps.hsml.csv_reader import read_labelled_csv
from steps.hsml.deduplication import conflicts, deduplicate
from steps.hsml.descriptions import MAX_DESCRIPTION_CHARS
from steps.hsml.encoder import TextEncoder
from steps.hsml.hashing import sha256_file
from steps.hsml.hs_codes import HSCodeNormalizer, load_hs6_codes
from steps.hsml.prepared import SPLIT_COLUMNS, SPLIT_FILES
from steps.hsml.profile import build_profile
from steps.hsml.quarantine import Rejection, write_rejected
from steps.hsml.text import NORMALIZER_VERSION, normalize_description
from steps.hsml.upsampling import METHODS, upsample
from steps.hsml.filler import FILLER_FILE, write_filler_terms
from steps.hsml.vagueness_training import VAGUE_TERMS_FILE, fit_detector, read_vague_terms, split_vague_terms
from steps.hsml.validation import (
    NOMENCLATURE_SPLITS, TEST_SPLITS, TRAIN_SPLITS, VALIDATION_SPLITS, description_problem, split_problem,
)

DEFAULT_INPUT_DIR = "/opt/ml/processing/input/data"
DEFAULT_REFERENCE_DIR = "/opt/ml/processing/input/reference"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing/output"
VAGUENESS_FILE = "vagueness.json"


# --nomenclature: every official row (30.5k), none, or the subheadings' own texts only: the WCO HS6 descriptions
# and the US 6-digit lines (7.6k rows, every one of the 5,613 codes), without the 24.9k US 8/10-digit lines.
NOMENCLATURE_CHOICES = ("include", "exclude", "subheadings")
SUBHEADING_SOURCES = frozenset({"wco_hs2022_subheading", "us_hts2025_6digit"})


@dataclass
class PrepareOptions:
    validation_fraction: float = 0.1
    test_fraction: float = 0.1  # carved only from rows without a given split
    min_texts_per_class: int = 3
    upsample: bool = True
    upsample_floor: int = 5
    upsample_method: str = "duplicate"
    # The official nomenclature rows (split=train_nomenclature): by default only the subheadings' own texts, so every
    # one of the 5,613 codes has a training row (a code with no real row is otherwise unreachable). Chosen on
    # validation, its long-text probes and the cross-source check (never test_fpo): the default DNN with them scored
    # FPO->HMRC 12.3 / 32.5 % HS6 / HS2 against 3.1 / 15.0 % without, val HS6 47.9 vs 45.8 %
    # (bench/results/robustness.md, dnn_subheadings vs dnn_tau0.5). All 30.5k rows (`include`) make training 6x
    # larger; on test_fpo they did not help the TF-IDF checks of bench/data_prep (kNN 31.5 % both ways).
    nomenclature: str = "subheadings"
    seed: int = 42


@dataclass
class Row:
    file: str
    line: int
    description: str
    text: str
    hs_code: str
    source: str
    hint: str
    as_read: dict[str, str] = field(default_factory=dict)  # the input row's columns, for rejected.csv
    split: str | None = None


@dataclass
class Tally:
    rows_read: int = 0
    excluded: int = 0
    duplicates: int = 0
    truncated_codes: int = 0
    zero_padded_codes: int = 0
    decoding_fallback_lines: int = 0
    inputs: list[dict] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)


def _log(message: str) -> None:
    print(f"[preprocess] {message}", flush=True)


def find_inputs(paths: list[str | Path]) -> list[Path]:
    """Input files: the given files, plus every *.csv / *.csv.gz under the given folders (sorted)."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".csv", ".csv.gz")))
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"input {path} does not exist (pass CSV files or folders holding *.csv / *.csv.gz)")
    if not found:
        raise UsageError(f"no *.csv or *.csv.gz input under {', '.join(map(str, paths))}")
    return found


def _nomenclature_kept(choice: str, fields: dict) -> bool:
    """Whether an official nomenclature row is kept under --nomenclature `choice`."""
    if choice == "subheadings":
        return fields.get("source", "") in SUBHEADING_SOURCES
    return choice == "include"


def _hint(split_value: str) -> str:
    value = split_value.strip().lower()
    if value in TEST_SPLITS:
        return splitting.HINT_TEST
    if value in VALIDATION_SPLITS:
        return splitting.HINT_VALIDATION
    if value in TRAIN_SPLITS:
        return splitting.HINT_TRAIN
    if value in NOMENCLATURE_SPLITS:
        return splitting.HINT_NOMENCLATURE
    return splitting.HINT_NONE


def read_and_validate(files: list[Path], codes: HSCodeNormalizer, options: PrepareOptions, tally: Tally) -> list[Row]:
    rows: list[Row] = []
    for path in files:
        result = read_labelled_csv(path)
        file_rows = len(result.records)
        tally.rows_read += file_rows
        tally.decoding_fallback_lines += result.encoding_fallback_lines
        tally.inputs.append({
            "file": path.name, "sha256": result.sha256, "rows_read": file_rows, "delimiter": result.delimiter,
            "utf16": result.utf16, "encoding_fallback_lines": result.encoding_fallback_lines,
            "ignored_columns": result.ignored_columns,
        })
        _log(f"  {path.name}: {file_rows:,} rows, {result.encoding_fallback_lines} lines decoded as Windows-1252")
        for record in result.records:
            if record.reason:
                tally.rejections.append(Rejection(path.name, record.line, record.reason, record.detail,
                                                  record.as_read, record.raw))
                continue
            fields = record.fields
            hint = _hint(fields.get("split", ""))
            if hint == splitting.HINT_NOMENCLATURE and not _nomenclature_kept(options.nomenclature, fields):
                tally.excluded += 1
                continue
            problem = split_problem(fields.get("split", "")) or description_problem(fields["description"])
            if problem:
                tally.rejections.append(Rejection(path.name, record.line, *problem, record.as_read))
                continue
            code = codes.normalize(fields["hs_code"])
            if code.code is None:
                tally.rejections.append(Rejection(path.name, record.line, code.reason, code.detail, record.as_read))
                continue
            text = normalize_description(fields["description"])
            if not text:
                tally.rejections.append(Rejection(path.name, record.line, "non_text_description",
                                                  "nothing left after normalisation", record.as_read))
                continue
            tally.truncated_codes += code.truncated
            tally.zero_padded_codes += code.zero_padded
            source = fields.get("source", "").strip() or path.name
            rows.append(Row(path.name, record.line, fields["description"].strip(), text, code.code, source, hint,
                            record.as_read))
    return rows


def _write_csv(path: Path, header: list[str], rows) -> str:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return sha256_file(path)


def _data_hash(rows: list[Row]) -> str:
    digest = hashlib.sha256()
    for row in sorted(rows, key=lambda r: (r.split, r.hs_code, r.text, r.description)):
        digest.update(f"{row.split}\t{row.hs_code}\t{row.description}\n".encode("utf-8"))
    return digest.hexdigest()


def prepare(inputs: list[str | Path], reference: str | Path, output_dir: str | Path,
            options: PrepareOptions | None = None) -> dict:
    """Run the whole preparation; returns the report (also written to output_dir/report.json)."""
    options = options or PrepareOptions()
    if options.nomenclature not in NOMENCLATURE_CHOICES:
        raise UsageError(f"--nomenclature must be one of {', '.join(NOMENCLATURE_CHOICES)}, "
                         f"got {options.nomenclature!r}")
    if options.upsample_method not in METHODS:
        raise UsageError(f"--upsample-method must be one of {', '.join(METHODS)}, got {options.upsample_method!r}")
    started = time.perf_counter()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    tally = Tally()

    files = find_inputs(inputs)
    hs6 = load_hs6_codes(reference)
    _log(f"[1/6] reading and validating {len(files)} file(s) against {len(hs6):,} HS 2022 subheadings")
    rows = read_and_validate(files, HSCodeNormalizer(hs6), options, tally)
    _log(f"      {len(rows):,} valid rows, {len(tally.rejections):,} rejected, {tally.excluded:,} excluded")

    _log("[2/6] deduplicating on (normalised text, hs_code)")
    rows, tally.duplicates = deduplicate(rows)
    conflict_report = conflicts(rows)
    _log(f"      {len(rows):,} unique rows, {tally.duplicates:,} duplicates, "
         f"{conflict_report['texts']} texts with more than one code (kept)")

    _log("[3/6] splitting train/validation/test (stratified by class, grouped by text)")
    split_result = splitting.assign_splits(
        [r.text for r in rows], [r.hs_code for r in rows], [r.hint for r in rows],
        validation_fraction=options.validation_fraction, test_fraction=options.test_fraction,
        min_texts_per_class=options.min_texts_per_class, seed=options.seed)
    kept: list[Row] = []
    for row, split in zip(rows, split_result.splits):
        if split is None:
            tally.rejections.append(Rejection(row.file, row.line, "text_in_evaluation_split",
                                              "official nomenclature text identical to a validation/test text "
                                              "(training only; kept out to avoid leakage)", row.as_read))
            continue
        row.split = split
        kept.append(row)
    by_split = {name: [r for r in kept if r.split == name] for name in SPLIT_FILES}
    _log("      " + ", ".join(f"{name} {len(split_rows):,}" for name, split_rows in by_split.items()))

    _log(f"[4/6] up-sampling rare training classes "
         f"({'to ' + str(options.upsample_floor) + ' rows, ' + options.upsample_method if options.upsample else 'off'})")
    train = by_split["train"]
    # Real rows only: a code known only from its official text keeps that one row (copies of a nomenclature line
    # would multiply the 5,613 official codes into most of the training set, and teach nothing about traffic).
    real = [i for i, r in enumerate(train) if r.hint != splitting.HINT_NOMENCLATURE]
    extra = upsample([train[i].text for i in real], [train[i].hs_code for i in real], floor=options.upsample_floor,
                     method=options.upsample_method, seed=options.seed) if options.upsample else []
    extra = [replace(e, source_index=real[e.source_index]) for e in extra]  # back to indices of `train`
    upsampled_classes = len({train[e.source_index].hs_code for e in extra})
    _log(f"      {len(extra):,} rows added to {upsampled_classes:,} classes")

    _log("[5/6] fitting the text encoder (and the vague-description detector) on the training split")
    encoder = TextEncoder.fit(r.text for r in train)  # unique training texts: copies would skew the counts
    encoder.save(output_dir / "encoder.json")
    _log(f"      {len(encoder.word_vocab):,} words, {len(encoder.ngram_vocab):,} character n-grams")

    vagueness = fit_vague_detector(reference, train, by_split["validation"], output_dir,
                                   labelled_texts={r.text for r in kept})

    _log("[6/6] writing splits, rejected rows, profile and report")
    output_hashes = {}
    for name, filename in SPLIT_FILES.items():
        table = [[r.description, r.text, r.hs_code, r.source, f"{r.file}:{r.line}", 0] for r in by_split[name]]
        if name == "train":
            table += [[e.text if e.text != train[e.source_index].text else train[e.source_index].description,
                       e.text, train[e.source_index].hs_code, train[e.source_index].source,
                       f"{train[e.source_index].file}:{train[e.source_index].line}", 1] for e in extra]
        output_hashes[filename] = _write_csv(output_dir / filename, SPLIT_COLUMNS, table)
    rejections = sorted(tally.rejections, key=lambda r: (r.file, r.line))
    output_hashes["rejected.csv"] = sha256_file(write_rejected(output_dir / "rejected.csv", rejections))

    real_train = [r for r in train if r.hint != splitting.HINT_NOMENCLATURE]
    profile = build_profile(
        real_train_descriptions=[r.description for r in real_train], real_train_texts=[r.text for r in real_train],
        train_codes=[r.hs_code for r in real_train], all_train_codes=[r.hs_code for r in train],
        evaluation_texts={"validation": [r.text for r in by_split["validation"]],
                          "test": [r.text for r in by_split["test"]]},
        vocabulary=set(encoder.word_vocab))
    (output_dir / "profile.json").write_text(json.dumps(profile, indent=1, ensure_ascii=False), encoding="utf-8")

    report = {
        "rows_read": tally.rows_read,
        "kept": len(kept),
        "rejected": len(rejections),
        "duplicates": tally.duplicates,
        "excluded": tally.excluded,
        "rejected_by_reason": dict(sorted(Counter(r.reason for r in rejections).items())),
        "codes": {"truncated_to_6_digits": tally.truncated_codes, "leading_zero_restored": tally.zero_padded_codes},
        "decoding": {"windows_1252_fallback_lines": tally.decoding_fallback_lines,
                     "undecodable_lines": sum(r.reason == "undecodable" for r in rejections)},
        "conflicting_labels": conflict_report,
        "splits": {name: len(split_rows) for name, split_rows in by_split.items()}
        | {"train_with_upsampling": len(train) + len(extra),
           "train_nomenclature_rows": len(train) - len(real_train),
           "carved_validation_texts": split_result.carved_validation_texts,
           "carved_test_texts": split_result.carved_test_texts,
           "classes_too_small_for_validation": split_result.classes_too_small},
        "classes": {name: len({r.hs_code for r in split_rows}) for name, split_rows in by_split.items()},
        "upsampling": {"enabled": options.upsample, "floor": options.upsample_floor,
                       "method": options.upsample_method, "rows_added": len(extra), "classes": upsampled_classes},
        "encoder": {"word_vocab": len(encoder.word_vocab), "ngram_vocab": len(encoder.ngram_vocab),
                    "fitted_rows": encoder.fitted_rows, "normalizer_version": NORMALIZER_VERSION},
        "vagueness": vagueness,
        "data_sha256": _data_hash(kept),
        "inputs": tally.inputs,
        "outputs": output_hashes,
        "options": asdict(options),
        "limits": {"max_description_chars": MAX_DESCRIPTION_CHARS},
        "elapsed_seconds": round(time.perf_counter() - started, 2),
    }
    accounted = report["kept"] + report["rejected"] + report["duplicates"] + report["excluded"]
    assert report["rows_read"] == accounted, (
        f"row accounting broken: read {report['rows_read']} != kept {report['kept']} + rejected "
        f"{report['rejected']} + duplicates {report['duplicates']} + excluded {report['excluded']}")
    (output_dir / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    _log(f"done in {report['elapsed_seconds']} s: {report['rows_read']:,} read = {report['kept']:,} kept + "
         f"{report['rejected']:,} rejected + {report['duplicates']:,} duplicates + {report['excluded']:,} excluded "
         f"-> {output_dir}")
    return report


def vague_terms_path(reference: str | Path) -> Path:
    """hmrc_vague_terms.csv beside the nomenclature (reference: its folder, or the nomenclature file itself)."""
    folder = Path(reference) if Path(reference).is_dir() else Path(reference).parent
    return folder / VAGUE_TERMS_FILE


def fit_vague_detector(reference: str | Path, train: list[Row], validation: list[Row], output_dir: Path,
                       labelled_texts: set[str] = frozenset()) -> dict:
    """vagueness.json in output_dir when the reference folder holds the vague terms, and filler_terms.txt: those
    terms less any that is a labelled description of a split (`labelled_texts`). Returns what report.json says."""
    path = vague_terms_path(reference)
    target = output_dir / VAGUENESS_FILE
    if not path.is_file():
        target.unlink(missing_ok=True)
        (output_dir / FILLER_FILE).unlink(missing_ok=True)
        _log(f"      no {VAGUE_TERMS_FILE} beside the nomenclature: no vague-description detector, no filler terms")
        return {"fitted": False, "reason": f"{path} not found"}
    vague = [normalize_description(term) for term in read_vague_terms(path)]
    # Training's filler copies (filler.py): never the detector's held-out fifth, and never a text that is also a
    # labelled description ("birdseed", "chicken topper": 518 of HMRC's vague terms are real rows with a code). Such
    # a text names a product, and one from validation or test must not reach training inside another row.
    filler = [term for term in split_vague_terms(vague)[0] if term not in labelled_texts]
    write_filler_terms(filler, output_dir)
    real_train = [r for r in train if r.hint != splitting.HINT_NOMENCLATURE]
    try:
        detector = fit_detector(vague, [r.text for r in real_train], [r.text for r in validation],
                                real_sources=[r.source for r in real_train],
                                validation_sources=[r.source for r in validation], labelled_texts=labelled_texts)
    except ValueError as error:  # e.g. no real training row to contrast the vague terms with
        target.unlink(missing_ok=True)
        _log(f"      no vague-description detector: {error}")
        return {"fitted": False, "reason": str(error)}
    target.write_text(json.dumps(detector.to_dict(), ensure_ascii=False), encoding="utf-8")
    info = detector.info
    _log(f"      vague detector: threshold {detector.threshold:.3f}, recall {_share(info['recall_held_out'])} on "
         f"{info['held_out_vague_terms']} held-out vague terms, {_share(info['false_refusal_rate'])} of "
         f"{info['real_rows']} validation rows refused")
    return {"fitted": True, "vague_terms_sha256": sha256_file(path), **detector.summary()}


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def add_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the job script and `hscode data prepare`."""
    defaults = PrepareOptions()
    parser.add_argument("--validation-fraction", type=float, default=defaults.validation_fraction,
                        help="share of each class's real training texts carved out for validation (default %(default)s)")
    parser.add_argument("--test-fraction", type=float, default=defaults.test_fraction,
                        help="share carved out for test from rows WITHOUT a given split (default %(default)s)")
    parser.add_argument("--min-texts-per-class", type=int, default=defaults.min_texts_per_class,
                        help="classes with fewer eligible texts stay in train only (default %(default)s)")
    parser.add_argument("--upsample-floor", type=int, default=defaults.upsample_floor,
                        help="training classes below this many rows are up-sampled to it (default %(default)s)")
    parser.add_argument("--upsample-method", choices=METHODS, default=defaults.upsample_method)
    parser.add_argument("--no-upsample", dest="upsample", action="store_false", help="turn up-sampling off")
    parser.add_argument("--nomenclature", choices=NOMENCLATURE_CHOICES, default=defaults.nomenclature,
                        help="use the official nomenclature rows (split=train_nomenclature) for training: all of "
                             "them, none, or only the subheadings' own texts (the WCO HS6 descriptions and the US "
                             "6-digit lines: every code once or twice); excluded rows are counted, not rejected "
                             "(default %(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed)


def options_from_args(args: argparse.Namespace) -> PrepareOptions:
    return PrepareOptions(**{name: getattr(args, name) for name in PrepareOptions.__dataclass_fields__})
