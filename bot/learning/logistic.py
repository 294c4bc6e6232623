"""Fitting the reader's models: L2-regularised logistic regression by Newton's method in numpy (deterministic, no
extra dependency), and gradient-boosted trees (scikit-learn, when installed) on the same features, for comparison
only."""

from __future__ import annotations

import numpy as np

from bot.answering.reader import Linear

SEED = 21  # the trees' random state (the logistic fit needs none); recorded in the model
L2 = 1.0


def fit(x: np.ndarray, y: np.ndarray, names: list[str], l2: float = L2, iterations: int = 30) -> Linear:
    """L2-regularised logistic regression on standardised features, by Newton's method."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    constant = scale < 1e-9
    mean[constant], scale[constant] = 0.0, 1.0
    z = (x - mean) / scale
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], l2)
    penalty[constant] = 1e-6  # the bias column
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -30, 30)))
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Linear(names, mean, scale, w)


def stack(rows: list[np.ndarray], width: int) -> np.ndarray:
    """Feature rows as one matrix, `width` columns wide even when there are none."""
    return np.vstack(rows) if rows else np.zeros((0, width))


def boosted_p_at_1(train: list[tuple[np.ndarray, np.ndarray]], val: list[tuple[np.ndarray, np.ndarray]], width: int):
    """Validation precision at 1 of gradient-boosted trees on the same pooled features (comparison only)."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
    except ImportError:
        return None
    x = stack([a for a, _ in train], width)
    y = np.concatenate([b for _, b in train]) if train else np.zeros(0)
    if len(set(y.tolist())) < 2:
        return None
    model = HistGradientBoostingClassifier(max_iter=150, learning_rate=0.08, max_leaf_nodes=15, random_state=SEED)
    model.fit(x, y)
    hits = [float(b[int(np.argmax(model.predict_proba(a)[:, 1]))]) for a, b in val if len(a)]
    return sum(hits) / len(hits) if hits else None
