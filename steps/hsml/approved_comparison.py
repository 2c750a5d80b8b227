"""The quality gate's second half: the new model against the group's currently approved one, on the same rows.

A fixed QualityThreshold alone lets a worse model through (it only has to clear the bar, not the model already
in service). So Evaluate also scores the approved model (it arrives as a ProcessingInput: the approved-model
pointer, pipelines/registry/approved_pointer.py) on the very test rows the new model was scored on, and writes
comparison.json, a PropertyFile the pipeline's CheckQuality step reads:

    {"passed": bool, "floor": approved accuracy - max_regression (0.0 when none is approved),
     "candidate_accuracy", "approved_accuracy" (null when none), "difference", "max_regression", "test_rows",
     "approved_model": {"arn", "version", "checksum"} | null, "message": one sentence with both numbers,
     "candidate_is_approved": 1 when the candidate's model.tar.gz has the approved one's sha256, else 0}

The condition is `candidate HS6 top-1 >= floor`: more than `max_regression` below the approved model fails.
With no approved model yet the comparison passes and says so. `candidate_is_approved` lets the pipeline skip
registering the model already in service again (the weekly schedule over unchanged data: Tune is a cache hit
and hands back the very archive that was approved); a number, since conditions compare numbers plainly.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from steps.hsml.cli_errors import UsageError
from steps.hsml.hashing import sha256_file

APPROVED_FILE = "approved.json"  # the pointer's layout (pipelines/registry/approved_pointer.py)
COMPARISON_FILE = "comparison.json"
DEFAULT_MAX_REGRESSION = 0.03
SAME_MODEL_NOTE = "; it is the approved model itself (same sha256): nothing new to register"


@dataclass(frozen=True)
class ApprovedModel:
    path: Path
    arn: str
    version: int | None
    checksum: str | None


def read_approved(approved_dir: str | Path) -> ApprovedModel | None:
    """The approved model the pointer names (its archive checked against the recorded sha256), or None."""
    approved_dir = Path(approved_dir)
    pointer_path = approved_dir / APPROVED_FILE
    if not pointer_path.is_file():
        raise UsageError(f"{pointer_path} not found: the approved-model input must hold approved.json "
                         '({"model": null} when no version is approved; `hscode pipeline upsert` seeds it)')
    try:
        model = json.loads(pointer_path.read_text(encoding="utf-8"))["model"]
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{pointer_path}: not an approved-model pointer ({error})") from None
    if model is None:
        return None
    path = approved_dir / str(model.get("file") or "model.tar.gz")
    if not path.is_file():
        raise UsageError(f"{pointer_path} names approved version {model.get('version')} but {path.name} is not "
                         "beside it: run `hscode registry sync-approved` to rewrite the pointer")
    checksum = model.get("checksum")
    if checksum and sha256_file(path) != checksum:
        raise UsageError(f"{path} does not have the sha256 {checksum} that approved.json records (the pointer "
                         "changed while this job read it, or the copy is damaged): run the execution again")
    return ApprovedModel(path, str(model.get("arn")), model.get("version"), checksum)


def compare(candidate_accuracy: float, approved_accuracy: float | None, test_rows: int, max_regression: float,
            approved: ApprovedModel | None = None, candidate_checksum: str | None = None) -> dict:
    """comparison.json's content: does the candidate stay within `max_regression` of the approved model, and is it
    that very model (same sha256)?"""
    if not 0 <= max_regression <= 1:
        raise UsageError(f"max regression must be between 0 and 1 (HS6 top-1 points as a fraction), "
                         f"got {max_regression}")
    if approved_accuracy is None:
        return {"passed": True, "floor": 0.0, "candidate_accuracy": candidate_accuracy, "approved_accuracy": None,
                "difference": None, "max_regression": max_regression, "test_rows": test_rows,
                "approved_model": None, "candidate_is_approved": 0,
                "message": f"no approved model in the group yet: nothing to compare HS6 top-1 "
                           f"{candidate_accuracy:.3f} with (passes)"}
    # Rounded so that exactly `max_regression` below passes (0.33 - 0.03 is 0.30000000000000004 in floats).
    floor = round(approved_accuracy - max_regression, 12)
    same = candidate_checksum is not None and approved is not None and candidate_checksum == approved.checksum
    passed = candidate_accuracy >= floor
    which = f"the approved model's {approved_accuracy:.3f}"
    if approved is not None and approved.version is not None:
        which += f" (version {approved.version})"
    if not passed:
        verdict = f"is more than {max_regression:.2f} below {which}"
    elif candidate_accuracy < approved_accuracy:
        verdict = f"is within {max_regression:.2f} of {which}"
    else:
        verdict = f"is not below {which}"
    return {
        "passed": passed, "floor": floor, "candidate_accuracy": candidate_accuracy,
        "approved_accuracy": approved_accuracy, "difference": candidate_accuracy - approved_accuracy,
        "max_regression": max_regression, "test_rows": test_rows,
        "approved_model": None if approved is None else {"arn": approved.arn, "version": approved.version,
                                                         "checksum": approved.checksum},
        "message": f"HS6 top-1 {candidate_accuracy:.3f} {verdict} on the same {test_rows} test rows"
                   f" ({'passes' if passed else 'fails'}){SAME_MODEL_NOTE if same else ''}",
        "candidate_is_approved": int(same),
    }


def write_comparison(comparison: dict, output_dir: str | Path) -> Path:
    path = Path(output_dir) / COMPARISON_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(comparison, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return path
