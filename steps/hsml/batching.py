"""Length-bucketed training batches: rows of similar length together, re-drawn every epoch.

The model trims each batch to its longest row (models.TrimPadding), so a batch of short declarations must not
carry a long nomenclature text: shuffle, sort within pools of `pool_batches` batches by length, cut into batches,
shuffle the batch order.
"""
from __future__ import annotations

import keras
import numpy as np


class LengthBucketedBatches(keras.utils.PyDataset):
    """x: (word_ids, ngram_ids); y: labels, or a dict of them (one per output); optional per-row sample weights."""

    def __init__(self, x, y, batch_size: int, seed: int, pool_batches: int = 50, sample_weight=None):
        super().__init__()
        self.words, self.ngrams = x
        self.y, self.sample_weight = y, sample_weight
        self.batch_size, self.pool_batches = batch_size, pool_batches
        self.lengths = (self.words != 0).sum(axis=1)
        self.rng = np.random.default_rng(seed)
        self.batches = self._arrange()

    def _arrange(self) -> list[np.ndarray]:
        order = self.rng.permutation(len(self.words))
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        self.rng.shuffle(batches)
        return batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index):
        rows = np.sort(self.batches[index])
        labels = {k: v[rows] for k, v in self.y.items()} if isinstance(self.y, dict) else self.y[rows]
        if self.sample_weight is None:
            return (self.words[rows], self.ngrams[rows]), labels
        return (self.words[rows], self.ngrams[rows]), labels, self.sample_weight[rows]

    def on_epoch_end(self) -> None:
        self.batches = self._arrange()
