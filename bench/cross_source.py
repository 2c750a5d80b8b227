"""The bench's out-of-domain checks: cross-source splits and long-text probes (steps/hsml/generalisation.py).

Cross-source: train on one real source and score the other, so nothing the model learnt came from text like the
text it is scored on.

- `hmrc_to_fpo`: train on the HMRC search terms, score the FPO parcel declarations.
- `fpo_to_hmrc`: train on the FPO declarations, score the HMRC search terms.

Each check gets its own input file, prepared by the project's own preprocess code like the in-domain splits
(`write_check_input` + `steps.hsml.preparation.prepare`): validation is carved from the training source only,
the encoder is fitted on the training source only, up-sampling and the nomenclature option are the defaults.
Rows of the scored source are marked `test`, so preparation puts every one of them in the test split (and a text
found in both sources is scored, not trained on). The `test_fpo` rows are left out of both checks: they are
kept for the in-domain report.

Long-text probes: the in-domain test rows padded with listing filler or concatenated with another description
of the same code (`long_text_probe`), labels unchanged.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from steps.hsml.generalisation import FPO_SOURCE, HMRC_SEARCH_SOURCE, PROBE_KINDS, long_text_probe, source_rows

# check name -> (training source, scored source)
DIRECTIONS: dict[str, tuple[str, str]] = {
    "hmrc_to_fpo": (HMRC_SEARCH_SOURCE, FPO_SOURCE),
    "fpo_to_hmrc": (FPO_SOURCE, HMRC_SEARCH_SOURCE),
}
SOURCE_NAMES = {HMRC_SEARCH_SOURCE: "HMRC search terms", FPO_SOURCE: "FPO declarations"}
RESERVED_SPLIT = "test_fpo"
NOMENCLATURE_SPLIT = "train_nomenclature"


def check_frame(bundled: pd.DataFrame, check: str) -> pd.DataFrame:
    """The input rows of one cross-source check: training source as `train`, scored source as `test`, the
    official nomenclature rows as they are (preparation keeps or drops them by its own option); never test_fpo."""
    if check not in DIRECTIONS:
        raise ValueError(f"unknown cross-source check {check!r}; choose one of {', '.join(DIRECTIONS)}")
    train_source, scored_source = DIRECTIONS[check]
    real = bundled[bundled["split"] != RESERVED_SPLIT]
    train = source_rows(real[real["split"] != NOMENCLATURE_SPLIT], train_source).assign(split="train")
    scored = source_rows(real[real["split"] != NOMENCLATURE_SPLIT], scored_source).assign(split="test")
    nomenclature = real[real["split"] == NOMENCLATURE_SPLIT]
    if train.empty or scored.empty:
        raise ValueError(f"cross-source check {check}: {len(train)} training and {len(scored)} scored rows; "
                         "both sources must be present")
    return pd.concat([train, scored, nomenclature], ignore_index=True)


def write_check_input(bundled: pd.DataFrame, check: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    check_frame(bundled, check).to_csv(path, index=False)
    return path


def probe_sets(descriptions, codes, seed: int = 0) -> dict[str, tuple[list[str], list[str]]]:
    """{"pad": (texts, codes), "concat": (texts, codes)}: the long-text probes of the given rows."""
    return {kind: long_text_probe(list(descriptions), list(codes), kind=kind, seed=seed) for kind in PROBE_KINDS}
