"""What the bundled data allows: the facts accuracy.md cites when it says why a target is not met.

Computed from the bundled file's real rows (split train and test_fpo, the two real sources), by HS6 code:
- test_fpo rows whose code has no real training row (reachable only through its nomenclature text), and rows
  whose code has fewer than MIN_TEXTS_FOR_VALIDATION distinct real training texts: preparation carves validation
  only from codes with at least that many (steps/hsml/splitting.py), so validation never holds such rows;
- for each cross-source direction, the scored rows whose code the training source has at all.
No model is involved; `python -m bench.limits` prints them.
"""
from __future__ import annotations

import json

import pandas as pd

from pipelines.settings import BUNDLED_DATASET
from steps.hsml.generalisation import FPO_SOURCE, HMRC_SEARCH_SOURCE
from steps.hsml.splitting import assign_splits

MIN_TEXTS_FOR_VALIDATION = assign_splits.__kwdefaults__["min_texts_per_class"]


def data_limits(bundled=None) -> dict:
    if bundled is None:
        bundled = pd.read_csv(BUNDLED_DATASET, dtype=str, keep_default_na=False)
    train = bundled[bundled["split"] == "train"]
    test = bundled[bundled["split"] == "test_fpo"]
    texts_per_code = train.groupby("hs_code")["description"].nunique()
    test_texts = test["hs_code"].map(texts_per_code).fillna(0)
    codes_of = {source: set(train.loc[train["source"] == source, "hs_code"]) for source in (FPO_SOURCE,
                                                                                            HMRC_SEARCH_SOURCE)}

    def covered(scored_source: str, training_source: str) -> float:
        scored = train[train["source"] == scored_source]["hs_code"]
        return float(scored.isin(codes_of[training_source]).mean())

    return {
        "test_rows": len(test),
        "test_share_no_real_training_row": float((test_texts == 0).mean()),
        "test_share_too_few_texts_for_validation": float((test_texts < MIN_TEXTS_FOR_VALIDATION).mean()),
        "min_texts_for_validation": MIN_TEXTS_FOR_VALIDATION,
        "hmrc_to_fpo_scored_share_with_a_trained_code": covered(FPO_SOURCE, HMRC_SEARCH_SOURCE),
        "fpo_to_hmrc_scored_share_with_a_trained_code": covered(HMRC_SEARCH_SOURCE, FPO_SOURCE),
    }


if __name__ == "__main__":
    print(json.dumps(data_limits(), indent=2))
