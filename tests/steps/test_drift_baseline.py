"""drift_baseline.py: the per-row features, the baseline's bins, load errors, and the file training exports."""
import json

import pytest

from steps.hsml.cli_errors import UsageError
from steps.hsml.drift_baseline import (BASELINE_FILE, CHAPTERS, FEATURES, build_baseline, load_baseline,
                                       row_features, write_baseline)


class VocabularyEncoder:
    word_vocab = ["cotton", "shirt", "mens"]


def test_row_features_normalise_count_tokens_and_skip_error_rows():
    rows = row_features(
        ["Men's COTTON t-shirt", "broken", "   ", "steel"],
        [{"codes": ["610910", "610990"], "probabilities": [0.8, 0.1]}, {"error": "too long"},
         {"codes": ["999999"], "probabilities": [0.5]}, {"codes": ["ab"], "probabilities": [0.3]}],
        VocabularyEncoder())
    assert len(rows) == 2
    assert rows[0] == {"length_chars": len("mens cotton t shirt"), "length_tokens": 4, "oov_rate": 0.25,
                       "predicted_chapter": "61", "top1_probability": 0.8}
    assert rows[1]["predicted_chapter"] == "other" and rows[1]["oov_rate"] == 1.0


def test_baseline_has_bins_for_every_feature_and_keeps_the_rows(tmp_path):
    descriptions = [f"cotton shirt {'x ' * (i % 7)}" for i in range(300)]
    predictions = [{"codes": [f"{(i % 97) + 1:02d}0000"], "probabilities": [i / 300]} for i in range(300)]
    baseline = build_baseline(descriptions, predictions, VocabularyEncoder())
    assert baseline["n"] == 300 and set(baseline["features"]) == set(FEATURES)
    assert baseline["features"]["predicted_chapter"]["categories"] == list(CHAPTERS) and len(CHAPTERS) == 98
    probability = baseline["features"]["top1_probability"]
    assert len(probability["edges"]) == 9 and len(probability["counts"]) == 10 and sum(probability["counts"]) == 300
    assert all(len(baseline["rows"][name]) == 300 for name in FEATURES)
    write_baseline(baseline, tmp_path)
    assert load_baseline(tmp_path) == json.loads(json.dumps(baseline))


def test_load_baseline_names_the_fix(tmp_path):
    with pytest.raises(UsageError, match="has no drift baseline: retrain it with this version"):
        load_baseline(tmp_path)
    (tmp_path / BASELINE_FILE).write_text('{"format": "old"}')
    with pytest.raises(UsageError, match="retrain"):
        load_baseline(tmp_path)


def test_training_exports_the_baseline_of_its_validation_rows(tmp_path_factory):
    from tests.steps.model_fixtures import small_splits, trained_model_dir

    # The one model the model tests share (model_fixtures.trained_model_dir): its own folder here would train a
    # second one and evict the shared one from the cache, which the next user would then train again.
    model_dir, _ = trained_model_dir(str(tmp_path_factory.getbasetemp() / "shared-model"))
    baseline = load_baseline(model_dir)
    _, validation, _ = small_splits()
    assert baseline["n"] == len(validation) and baseline["source"] == "validation split"
    assert set(baseline["rows"]["predicted_chapter"]) <= set(CHAPTERS)
    assert all(0 < p <= 1 for p in baseline["rows"]["top1_probability"])
    from steps.hsml.export import pack_model_dir

    import tarfile

    with tarfile.open(pack_model_dir(model_dir, tmp_path_factory.mktemp("tar") / "model.tar.gz")) as archive:
        assert BASELINE_FILE in archive.getnames()
