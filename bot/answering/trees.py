"""Gradient-boosted trees as the reader's second stage, evaluated with numpy (no scikit-learn at run time).

`articlebot train-reader` fits scikit-learn's HistGradientBoostingClassifier on the pooled sentences' full features
and keeps it instead of the logistic full model only where it read the validation weeks better
(bot/learning/train_reader.py, docs/reader.md). The trees are stored in the reader's JSON as flat node arrays; a
sentence's probability is the sigmoid of the baseline plus the leaf value of every tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.answering.features import sigmoid


@dataclass
class Trees:
    """Same face as reader.Linear: names and prob(x)."""

    names: list[str]
    baseline: float
    # one row per tree: (feature, threshold, left, right, value) per node; a leaf has left == -1
    feature: list[np.ndarray]
    threshold: list[np.ndarray]
    left: list[np.ndarray]
    right: list[np.ndarray]
    value: list[np.ndarray]

    def __post_init__(self):
        # every tree padded to the same node count, so one step walks all trees at once (150 trees of depth up to
        # 14: a loop per tree cost ~60 ms per question on 2 cores, this ~1 ms)
        width = max(len(f) for f in self.feature) if self.feature else 1

        def pad(arrays, fill, dtype):
            out = np.full((len(arrays), width), fill, dtype=dtype)
            for i, a in enumerate(arrays):
                out[i, : len(a)] = a
            return out

        self._f = pad(self.feature, 0, np.int64)
        self._t = pad(self.threshold, 0.0, np.float64)
        self._lo = pad(self.left, -1, np.int64)
        self._hi = pad(self.right, -1, np.int64)
        self._v = pad(self.value, 0.0, np.float64)

    def raw(self, x: np.ndarray) -> np.ndarray:
        n, trees = len(x), len(self.feature)
        tree = np.arange(trees)[None, :]
        node = np.zeros((n, trees), dtype=np.int64)
        rows = np.arange(n)[:, None]
        while True:
            lo = self._lo[tree, node]
            inner = lo >= 0
            if not inner.any():
                break
            go_left = x[rows, self._f[tree, node]] <= self._t[tree, node]
            node = np.where(inner, np.where(go_left, lo, self._hi[tree, node]), node)
        return self.baseline + self._v[tree, node].sum(axis=1)

    def prob(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        return sigmoid(self.raw(np.asarray(x, dtype=np.float64)))

    def as_json(self) -> dict:
        return {
            "kind": "trees",
            "features": self.names,
            "baseline": round(self.baseline, 8),
            "trees": [
                {
                    "feature": f.tolist(),
                    "threshold": [round(float(v), 8) for v in t],
                    "left": lo.tolist(),
                    "right": hi.tolist(),
                    "value": [round(float(v), 8) for v in val],
                }
                for f, t, lo, hi, val in zip(self.feature, self.threshold, self.left, self.right, self.value)
            ],
        }

    @classmethod
    def from_json(cls, d: dict, names: list[str]) -> Trees:
        from bot.answering.reader import ModelError

        if d["features"] != names:
            raise ModelError(
                "the reader model was trained on other features than this code computes; "
                "run `articlebot train-reader` to rebuild it"
            )
        trees = d["trees"]
        return cls(
            names,
            float(d["baseline"]),
            [np.array(t["feature"], dtype=np.int64) for t in trees],
            [np.array(t["threshold"], dtype=np.float64) for t in trees],
            [np.array(t["left"], dtype=np.int64) for t in trees],
            [np.array(t["right"], dtype=np.int64) for t in trees],
            [np.array(t["value"], dtype=np.float64) for t in trees],
        )
