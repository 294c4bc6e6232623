"""Fine-tuning the cross-encoder (bot/answering/cross_encoder.py) on the training weeks' reads, with torch (the `train` extra).

Examples: for each in-corpus training question, the sentences the run-time reader would pool (the lexical model's
best POOL_CROSS) plus a few more: every one holding the answer is a positive, the others are hard negatives (the
same question's retrieved sentences, the ones the lexical features liked best), and two random ones; for each
out-of-corpus question, its lexically best sentences as negatives (so the best score carries the gate's evidence).
LoRA adapters (rank RANK) on every linear layer, the LayerNorms and a linear head on the mean-pooled output are
trained with binary cross-entropy; the base weights (digest-checked) stay frozen. Seeded; on 2 CPU cores an epoch
of ~20,000 pairs takes about 20 minutes. The epoch kept is the one with the best validation precision at 1.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np

from bot.answering.cross_encoder import TARGETS, tokenizer

SEED = 26
RANK = 16
ALPHA = 32
POSITIVES = 4  # per question at most
HARD = 7  # the lexically likeliest wrong sentences per question
RANDOM = 1
OOC_NEGATIVES = 2
BATCH = 32
GROUPS = 3  # questions a listwise step (each ~11 sentences)
LR = 6e-4


def pairs_of(read, order: list[int]) -> list[tuple[str, str]]:
    from bot.answering.extractive import cross_pairs

    return cross_pairs(read.question["question"], read.passages, read.candidates, order)


def examples(reads, lexical, pool: int, rng: random.Random) -> list[tuple[tuple[str, str], float]]:
    out = []
    for r in reads:
        if not r.candidates:
            continue
        ranked = [int(i) for i in np.argsort(-lexical.prob(r.lexical), kind="stable")]
        if r.in_corpus:
            if not r.labels.any():
                continue
            pos = [i for i in ranked if r.labels[i]][:POSITIVES]
            neg = [i for i in ranked if not r.labels[i]]
            chosen = neg[:HARD] + rng.sample(neg[HARD:], min(RANDOM, len(neg[HARD:])))
            picked = [(i, 1.0) for i in pos] + [(i, 0.0) for i in chosen]
        else:
            picked = [(i, 0.0) for i in ranked[:OOC_NEGATIVES]]
        out += [(x, y) for x, (_, y) in zip(pairs_of(r, [i for i, _ in picked]), picked)]
    rng.shuffle(out)
    return out


def groups(reads, lexical, pool: int, rng: random.Random) -> list[list[tuple[tuple[str, str], float]]]:
    """One group per answerable training question: its positives and hard negatives, for the listwise loss (the
    answer's sentence must beat its own question's other sentences, which is what choosing the quote asks)."""
    out = []
    for r in reads:
        if r.in_corpus and r.labels.any():
            out.append(examples([r], lexical, pool, rng))
    rng.shuffle(out)
    return out


def load_adapters(model, path: Path) -> None:
    """Start from adapters saved by an earlier run (a further epoch)."""
    import torch

    with np.load(path) as z:
        saved = {k: z[k] for k in z.files}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.requires_grad:
                p.copy_(torch.from_numpy(saved[name.removeprefix("bert.").replace(".base.", ".")]))


def _model(source: Path):
    import torch
    from torch import nn
    from transformers import BertModel

    class LoRA(nn.Module):
        def __init__(self, base: nn.Linear):
            super().__init__()
            self.base = base
            self.lora_A = nn.Parameter(torch.empty(RANK, base.in_features))
            self.lora_B = nn.Parameter(torch.zeros(base.out_features, RANK))
            nn.init.kaiming_uniform_(self.lora_A, a=5**0.5)
            self.drop = nn.Dropout(0.1)

        def forward(self, x):
            return self.base(x) + (self.drop(x) @ self.lora_A.T @ self.lora_B.T) * (ALPHA / RANK)

    class Cross(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = BertModel.from_pretrained(str(source), add_pooling_layer=False)
            for p in self.bert.parameters():
                p.requires_grad = False
            for layer in self.bert.encoder.layer:
                for target in TARGETS:
                    parent = layer
                    *path, leaf = target.split(".")
                    for step in path:
                        parent = getattr(parent, step)
                    setattr(parent, leaf, LoRA(getattr(parent, leaf)))
            for name, p in self.bert.named_parameters():
                if "LayerNorm" in name:
                    p.requires_grad = True
            self.head = nn.Linear(384, 1)
            nn.init.normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

        def forward(self, ids, mask):
            h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            return self.head((h * m).sum(1) / m.sum(1).clamp(min=1e-9)).squeeze(-1)

    return Cross()


def adapters(model) -> dict[str, np.ndarray]:
    """What bot/cross_encoder.merge folds into the base: LoRA factors, LayerNorms, the head (float32)."""
    out: dict[str, np.ndarray] = {"lora_scale": np.array(ALPHA / RANK, dtype=np.float32)}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        key = name.removeprefix("bert.").replace(".base.", ".")
        out[key] = p.detach().cpu().numpy().astype(np.float32)
    return out


def _tensors(tok, batch):
    import torch

    from bot.answering.cross_encoder import batch_arrays

    ids, mask = batch_arrays(tok.encode_batch([x for x, _ in batch]))
    return torch.from_numpy(ids), torch.from_numpy(mask)


def score(model, tok, pairs: list[tuple[str, str]], batch: int = 64) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(pairs), batch):
            ids, mask = _tensors(tok, [(x, 0.0) for x in pairs[s : s + batch]])
            out.append(model(ids, mask).numpy())
    model.train()
    return np.concatenate(out) if out else np.zeros(0)


def _listwise(logits, y, sizes: list[int]):
    """Mean over the groups of -log(the softmax mass of its positives)."""
    import torch

    losses = []
    for scores, labels in zip(torch.split(logits, sizes), torch.split(y, sizes)):
        losses.append(torch.logsumexp(scores, 0) - torch.logsumexp(scores[labels > 0], 0))
    return torch.stack(losses).mean()


def precision_at_1(model, tok, reads, lexical, pool: int) -> float:
    hits = []
    for r in reads:
        order = [int(i) for i in np.argsort(-lexical.prob(r.lexical), kind="stable")[:pool]]
        s = score(model, tok, pairs_of(r, order))
        hits.append(float(r.labels[order[int(np.argmax(s))]]))
    return sum(hits) / len(hits) if hits else 0.0


def train(
    reads,
    lexical,
    pool: int,
    out: Path,
    epochs: int = 2,
    log=print,
    limit: int | None = None,
    init: Path | None = None,
    listwise: bool = False,
    lr: float = LR,
) -> dict:
    """Fine-tune on the training reads; the adapters of the epoch with the best validation precision at 1 go to
    `out` (an .npz). Returns the per-epoch figures. `init`: adapters to start from; `listwise`: batches of whole
    questions, each positive scored against its own question's negatives (softmax), plus half the pointwise loss."""
    import torch

    from vectorstore.embeddings.cache import verified_bundled_model

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    source = verified_bundled_model()
    tok = tokenizer(source)
    model = _model(source)
    if init is not None:
        load_adapters(model, init)
    fitting = [r for r in reads if not r.validation]
    val = [r for r in reads if r.validation and r.in_corpus and r.labels.any()]
    data: list
    if listwise:  # GROUPS questions a step, about BATCH sentences
        grouped = groups(fitting, lexical, pool, rng)[:limit]
        data = [grouped[i : i + GROUPS] for i in range(0, len(grouped), GROUPS)]
        log(f"{len(grouped)} training questions in {len(data)} steps, {len(val)} validation questions")
    else:
        flat = examples(fitting, lexical, pool, rng)[:limit]
        data = [flat[i : i + BATCH] for i in range(0, len(flat), BATCH)]
        log(f"{len(flat)} training pairs ({sum(y for _, y in flat):.0f} positive), {len(val)} validation questions")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * len(data)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.06 * steps)) * max(0.0, (steps - s) / steps)
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    report: dict = {"pairs": len(data), "epochs": []}
    best = -1.0
    started = time.perf_counter()
    for epoch in range(epochs):
        if epoch:
            rng.shuffle(data)
        total = 0.0
        for b, step in enumerate(data):
            batch = [x for g in step for x in g] if listwise else step
            ids, mask = _tensors(tok, batch)
            logits = model(ids, mask)
            y = torch.tensor([y for _, y in batch])
            loss = loss_fn(logits, y)
            if listwise:
                loss = 0.5 * loss + _listwise(logits, y, [len(g) for g in step])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            total += float(loss.detach())
            if b % 50 == 0:
                log(f"epoch {epoch} batch {b} loss {total / (b + 1):.4f} {time.perf_counter() - started:.0f} s")
        p1 = precision_at_1(model, tok, val, lexical, pool)
        report["epochs"].append({"epoch": epoch, "loss": total / max(1, b + 1), "val_p_at_1": p1})
        log(f"epoch {epoch}: validation precision at 1 {p1:.3f} ({time.perf_counter() - started:.0f} s)")
        if p1 > best:
            best = p1
            np.savez(out, **adapters(model))  # type: ignore[arg-type]
    report["seconds"] = round(time.perf_counter() - started)
    return report


if __name__ == "__main__":  # python -m bot.learning.train_cross READS.pkl OUT.npz [EPOCHS] [INIT.npz LISTWISE LR]
    import json
    import pickle

    from bot.answering.reader import POOL_CROSS, default_reader

    reads, held, _ = pickle.loads(Path(sys.argv[1]).read_bytes())
    rep = train(
        reads,
        default_reader().lexical,
        POOL_CROSS,
        Path(sys.argv[2]),
        int(sys.argv[3]) if len(sys.argv) > 3 else 2,
        lambda m: print(m, file=sys.stderr, flush=True),
        None,
        Path(sys.argv[4]) if len(sys.argv) > 4 else None,
        len(sys.argv) > 5 and sys.argv[5] == "listwise",
        float(sys.argv[6]) if len(sys.argv) > 6 else LR,
    )
    print(json.dumps(rep, indent=1))
