"""The trained reader: how likely a retrieved sentence states the answer to a question, and how sure the gate can
be that the retrieved passages answer it at all.

Both are logistic models over a few dozen cheap features (bot/answering/features.py), learned on the training weeks of
shared/train/realtimeqa-train by `articlebot train-reader` (bot/learning/train_reader.py; model card in docs/reader.md).
Scoring is two-stage to stay within the latency budget: the lexical model scores every candidate sentence (term
overlap weighted by rarity, the answer type the question asks for against the sentence's numbers, dates and
names, position, retrieval rank and score, recency), then the best few are embedded and the full model adds their
similarity to the question. Run time needs numpy only; the weights are a small JSON file whose sha256 and training
data digest are recorded in bot/answering/models/MANIFEST.json and checked at load.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.answering.features import FULL, GATE, GATE_CROSS, LEXICAL, STACKED, sigmoid

MODEL_DIR = Path(__file__).resolve().parent / "models"
CROSS_DIR = MODEL_DIR / "cross"  # the cross-encoder reader (READER_MODEL=cross; docs/reader.md)
MODEL_FILE = "reader.json"
MANIFEST = "MANIFEST.json"
POOL = 8  # sentences embedded per answer: embedding all of them would cost ~0.5 s on 2 cores, eight a few tens of ms
POOL_CROSS = 16  # sentences the cross-encoder reads per answer (docs/reader.md: its cost on 2 cores)


class ModelError(RuntimeError):
    """The reader's model file is missing, damaged or not the one the manifest records."""


@dataclass
class Linear:
    """A logistic model over standardised features."""

    names: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    def prob(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        return sigmoid(((x - self.mean) / self.scale) @ self.weights)

    def as_json(self) -> dict:
        return {
            "features": self.names,
            "mean": self.mean.round(6).tolist(),
            "scale": self.scale.round(6).tolist(),
            "weights": self.weights.round(6).tolist(),
        }

    @classmethod
    def from_json(cls, d: dict, names: list[str]) -> Linear:
        if d["features"] != names:
            raise ModelError(
                "the reader model was trained on other features than this code computes; "
                "run `articlebot train-reader` to rebuild it"
            )
        return cls(names, np.array(d["mean"]), np.array(d["scale"]), np.array(d["weights"]))


@dataclass
class Reader:
    lexical: Linear  # scores every candidate
    full: Linear  # re-scores the pooled ones, with their similarity to the question
    gate: Linear  # do the passages answer the question at all?
    gate_threshold: float
    lead_threshold: float  # reader probability above which a direct answer line is shown
    nearly: float  # a further sentence is quoted when its probability is at least this share of the best's
    meta: dict
    use_full: bool = True  # re-score the pooled sentences with their similarity to the question
    use_gate: bool = True  # the trained gate decides (else the rule does, bot/answering/gate.py)
    cross: Any = None  # the cross-encoder (cross_encoder.py) when the model has one: it re-scores the pool
    stacked: Linear | None = None  # lexical features + the cross-encoder's logit; None: its probability alone
    overrule: float = 1.1  # the best sentence's probability above which an LLM's NOT FOUND is overruled

    @classmethod
    def load(cls, folder: Path = MODEL_DIR, cache_dir: Path | None = None) -> Reader:
        """`cache_dir`: where the cross-encoder's merged ONNX file is kept (Settings.model_dir)."""
        path = folder / MODEL_FILE
        try:
            raw = path.read_bytes()
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read the reader model in {folder}: {exc}") from None
        digest = hashlib.sha256(raw).hexdigest()
        expected = manifest.get("files", {}).get(MODEL_FILE)
        if digest != expected:
            raise ModelError(
                f"the reader model {path} is damaged or was swapped (sha256 {digest[:12]}…, the manifest "
                f"records {str(expected)[:12]}…); run `articlebot train-reader` to rebuild it"
            )
        try:
            d = json.loads(raw)
        except ValueError as exc:
            raise ModelError(f"the reader model {path} is not valid JSON: {exc}") from None
        if d.get("training_data") != manifest.get("training_data"):
            raise ModelError(
                f"the reader model {path} was trained on other data than the manifest records; "
                "run `articlebot train-reader` to rebuild it"
            )
        cross = None
        if d.get("cross"):
            from bot.answering.cross_encoder import ADAPTER_FILE, CrossEncoder, check_adapters

            # checked at start, so a swapped file stops the bot before its first question
            cross = CrossEncoder(cache_dir or _cache_dir(), folder / ADAPTER_FILE, check_adapters(folder))
        return cls(
            Linear.from_json(d["lexical"], LEXICAL),
            Linear.from_json(d["full"], FULL),
            Linear.from_json(d["gate"], GATE_CROSS if cross is not None else GATE),
            float(d["gate_threshold"]),
            float(d["lead_threshold"]),
            float(d["nearly"]),
            {k: v for k, v in d.items() if k not in ("lexical", "full", "gate", "stacked")},
            bool(d.get("use_full", True)),
            bool(d.get("use_gate", True)),
            cross,
            Linear.from_json(d["stacked"], STACKED) if cross is not None and d.get("stacked") else None,
            float(d.get("overrule", 1.1)),
        )


def _cache_dir() -> Path:
    """Where the merged cross-encoder goes when no Settings.model_dir was passed (tests, library use)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("articlebot", appauthor=False)) / "models"


def save(folder: Path, model: dict, extra: dict[str, str] | None = None) -> str:
    """Write the model and the manifest recording its sha256 (and `extra` files' digests: the cross-encoder's
    adapters) and training data digest; returns the sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = (json.dumps(model, indent=1, sort_keys=True) + "\n").encode()
    digest = hashlib.sha256(raw).hexdigest()
    (folder / MODEL_FILE).write_bytes(raw)
    manifest = {"files": {MODEL_FILE: digest, **(extra or {})}, "training_data": model["training_data"]}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return digest


_loaded: dict[Path, Reader] = {}


def reader_for(settings) -> Reader:
    """The reader Settings choose (READER_MODEL), its cross-encoder's graph cached in the model dir."""
    return default_reader(CROSS_DIR if settings.reader_model == "cross" else None, cache_dir=settings.model_dir)


def default_reader(folder: Path | None = None, cache_dir: Path | None = None) -> Reader:
    """The shipped reader, loaded and checked once per process."""
    folder = folder or MODEL_DIR
    if folder not in _loaded:
        _loaded[folder] = Reader.load(folder, cache_dir)
    return _loaded[folder]
