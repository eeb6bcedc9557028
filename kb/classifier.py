"""Which service a question is about: a linear classifier over words, characters and meaning.

Trained on the base's own questions, one class per service, plus one class per service the
base does *not* cover (the catalogue in `other_services`): a question about a passport then
has somewhere better to go than the nearest covered service. Scores become probabilities
with a softmax, so "how sure" reads the same whichever service wins.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from nlu.normalize import normalize
from nlu.segment import tokenize, with_sounds

if TYPE_CHECKING:  # loading and answering need none of them; fitting imports them
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion
    from sklearn.svm import LinearSVC

# Measured on the dev set (`xiaoshen eval`): C 0.5 and T 6 separate right from wrong best.
REGULARISATION = 0.5
TEMPERATURE = 6.0
DENSE_SCALE = 2.0  # the sentence vector's weight beside the two TF-IDF blocks
MAX_TEXTS_PER_SERVICE = 400  # keeps training to seconds on a 100k-entry base
WORDS, CHARS = "words", "chars"  # the two TF-IDF blocks: segmented words, characters 1-3
CHAR_NGRAMS = (1, 3)


class ServiceGuess(NamedTuple):
    """A service and how likely the question is about it; `item_no` None: not covered. (A
    guess lists every service, a few hundred: a named tuple is made 3× faster than a frozen
    dataclass.)"""

    item_no: int | None
    name: str
    probability: float


def words(text: str) -> list[str]:
    return with_sounds(tokenize(text))


def folded(text: str) -> str:
    return normalize(text).lower()


class ServiceClassifier:
    """The fitted classifier as plain arrays: weights, classes and each TF-IDF block's terms.
    Loading it imports neither sklearn nor scipy and unpickles nothing (with joblib's pickle
    of sklearn's objects, those imports were a quarter of the action server's start)."""

    def __init__(self, weights: np.ndarray | None, intercept: np.ndarray | None,
                 labels: np.ndarray, names: dict[int, str], blocks: list[TermWeights]) -> None:
        # Rows of the weights: the two TF-IDF blocks' columns, then the sentence vector's.
        # Scored by hand: sklearn's decision_function copied the whole weight matrix on every
        # call (6 ms of a 10 ms query).
        self._weights = weights
        self._intercept = intercept
        self.labels = labels
        self.names = names  # class label → service name; negative labels are not covered
        self._blocks = blocks
        # Per class, what a guess reports: the covered item (None if not covered), name.
        self._classes = [(int(label) if label >= 0 else None, names.get(int(label), ""))
                         for label in labels]

    @classmethod
    def fitted(cls, model: LinearSVC, features: FeatureUnion, names: dict[int, str]
               ) -> ServiceClassifier:
        return cls(np.ascontiguousarray(model.coef_.T, dtype=np.float32),
                   model.intercept_.astype(np.float32), model.classes_.astype(np.int64), names,
                   [TermWeights.of(kind, vectorizer)
                    for kind, vectorizer in features.transformer_list])

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[int], vectors: np.ndarray,
            names: dict[int, str]) -> ServiceClassifier:
        """Train on (text, label) pairs; labels < 0 are services the base does not cover."""
        if len(set(labels)) < 2:  # nothing to tell apart (an empty or one-service base)
            return cls(None, None, np.array(sorted(set(labels)), dtype=np.int64),
                       {label: names.get(label, "") for label in set(labels)}, [])
        return cls.fitted(*fit_models(texts, labels, vectors), names)

    def knows(self, item_no: int) -> bool:
        """Whether `item_no` is one of its classes: an entry of a service it was not trained
        on cannot be patched in before the next full build (it would never be guessed)."""
        return item_no in self.labels

    def guess(self, text: str, vector: np.ndarray) -> list[ServiceGuess]:
        """Every service, most likely first."""
        if self._weights is None or self._intercept is None:
            return [ServiceGuess(*self._classes[0], 1.0)] if self._classes else []
        scores = vector.astype(np.float32) * DENSE_SCALE @ self._weights[-len(vector):]
        start = 0
        for block in self._blocks:
            columns, weights = block.row(text)
            scores += weights @ self._weights[start + columns]
            start += block.width
        scores = (scores + self._intercept) * TEMPERATURE
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        order = np.argsort(-probabilities)
        return [ServiceGuess(*self._classes[i], probability)
                for i, probability in zip(order.tolist(), probabilities[order].tolist(),
                                          strict=True)]

    def save(self, path: Path) -> None:
        """Arrays in `path` (.npz), names and vocabularies beside it (.json)."""
        arrays = {"labels": self.labels}
        if self._weights is not None and self._intercept is not None:
            arrays |= {"weights": self._weights, "intercept": self._intercept}
        arrays |= {f"idf_{block.kind}": block.idf for block in self._blocks}
        with open(path, "wb") as file:
            np.savez(file, **arrays)
        path.with_suffix(".json").write_text(json.dumps({
            "names": list(self.names.items()),
            "blocks": [[block.kind, block.vocabulary] for block in self._blocks],
        }, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, path: Path) -> ServiceClassifier:
        described = json.loads(path.with_suffix(".json").read_text("utf-8"))
        with np.load(path, allow_pickle=False) as arrays:
            blocks = [TermWeights(kind, vocabulary, arrays[f"idf_{kind}"])
                      for kind, vocabulary in described["blocks"]]
            return cls(arrays.get("weights"), arrays.get("intercept"),
                       arrays["labels"], {int(k): v for k, v in described["names"]}, blocks)


def fit_models(texts: Sequence[str], labels: Sequence[int], vectors: np.ndarray
               ) -> tuple[LinearSVC, FeatureUnion]:
    """sklearn's TF-IDF blocks and linear SVM over them and the sentence vectors (imported
    here: only a full build fits, in a process of its own once a snapshot is saved)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion
    from sklearn.svm import LinearSVC

    chosen = _capped(labels, MAX_TEXTS_PER_SERVICE)
    features = FeatureUnion([
        (WORDS, TfidfVectorizer(analyzer=words, min_df=2, sublinear_tf=True)),
        (CHARS, TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, min_df=2,
                                preprocessor=folded, sublinear_tf=True)),
    ])
    sparse = features.fit_transform([texts[i] for i in chosen])
    matrix = hstack([sparse, csr_matrix(vectors[chosen] * DENSE_SCALE)]).tocsr()
    model = LinearSVC(C=REGULARISATION).fit(matrix, [labels[i] for i in chosen])
    return model, features


def char_wb_ngrams(text: str) -> list[str]:
    """sklearn's `char_wb` analyzer over `folded` text, CHAR_NGRAMS long: each word padded
    with a space either side, a word shorter than n counted once (the test holds it equal
    to sklearn's on the dev set)."""
    grams: list[str] = []
    for word in text.split():
        padded = f" {word} "
        for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
            if len(padded) <= n:
                grams.append(padded)
                break
            grams += [padded[i:i + n] for i in range(len(padded) - n + 1)]
    return grams


ANALYZERS: dict[str, Callable[[str], list[str]]] = {
    WORDS: words, CHARS: lambda text: char_wb_ngrams(folded(text))}


@dataclass(frozen=True)
class TermWeights:
    """A fitted TfidfVectorizer's transform of one text, without sklearn's per-call checks
    (two transforms were 2.5 of a question's 7 ms): the same analyzer, vocabulary, sublinear
    term frequency, IDF and unit length (tests/kb/test_classifier.py holds them equal)."""

    kind: str  # WORDS or CHARS: which analyzer
    vocabulary: dict[str, int]
    idf: np.ndarray

    @classmethod
    def of(cls, kind: str, vectorizer: TfidfVectorizer) -> TermWeights:
        assert vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf
        return cls(kind, {term: int(column) for term, column in vectorizer.vocabulary_.items()},
                   vectorizer.idf_.astype(np.float32))

    @property
    def width(self) -> int:
        return len(self.idf)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's non-zero columns and their weights."""
        counts = Counter(self.vocabulary[term] for term in ANALYZERS[self.kind](text)
                         if term in self.vocabulary)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        weights = (1 + np.log(np.fromiter(counts.values(), dtype=np.float32,
                                          count=len(counts)))) * self.idf[columns]
        length = np.linalg.norm(weights)
        return columns, weights / length if length else weights


def _capped(labels: Sequence[int], limit: int) -> list[int]:
    """Row numbers with at most `limit` per label, picked reproducibly."""
    rows: dict[int, list[int]] = defaultdict(list)
    for row, label in enumerate(labels):
        rows[label].append(row)
    chosen: list[int] = []
    for label_rows in rows.values():
        chosen += label_rows if len(label_rows) <= limit else random.Random(limit).sample(
            label_rows, limit)
    return sorted(chosen)
