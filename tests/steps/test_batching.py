"""Length-bucketed batches: every row once per epoch, similar lengths together, a new draw each epoch."""
import numpy as np

from steps.hsml.batching import LengthBucketedBatches


def _data(rows=230, max_length=12, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_length + 1, rows)
    words = np.zeros((rows, max_length), "int32")
    for i, n in enumerate(lengths):
        words[i, :n] = rng.integers(2, 50, n)
    ngrams = np.repeat(words[:, :, None], 3, axis=2)
    return (words, ngrams), np.arange(rows, dtype="int32"), lengths


def test_each_epoch_covers_every_row_once_in_batches_of_similar_length():
    x, y, lengths = _data()
    batches = LengthBucketedBatches(x, y, batch_size=16, seed=3, pool_batches=5)
    seen = [batches[i] for i in range(len(batches))]
    rows = np.concatenate([labels for _, labels in seen])
    assert sorted(rows) == list(range(len(y))) and len(batches) == 15  # pools of 80, 80, 70 rows: 5 batches each
    for (words, ngrams), labels in seen:
        np.testing.assert_array_equal(words, x[0][labels])  # inputs and labels stay aligned
        np.testing.assert_array_equal(ngrams, x[1][labels])
    spread = np.mean([np.ptp(lengths[labels]) for _, labels in seen])
    assert spread < 0.5 * np.ptp(lengths)  # sorting within pools keeps a batch's lengths close


def test_batches_are_redrawn_each_epoch_and_carry_dict_labels_and_weights():
    x, y, _ = _data()
    weights = np.linspace(0.5, 1.0, len(y)).astype("float32")
    batches = LengthBucketedBatches(x, {"hs_code": y, "hs4": y // 10}, batch_size=32, seed=1, sample_weight=weights)
    first = [labels["hs_code"].tolist() for _, labels, _ in (batches[i] for i in range(len(batches)))]
    (_, labels, batch_weights) = batches[0]
    np.testing.assert_array_equal(labels["hs4"], labels["hs_code"] // 10)
    np.testing.assert_allclose(batch_weights, weights[labels["hs_code"]])
    batches.on_epoch_end()
    second = [labels["hs_code"].tolist() for _, labels, _ in (batches[i] for i in range(len(batches)))]
    assert first != second and sorted(sum(first, [])) == sorted(sum(second, []))
