"""Which service a question is about: a linear classifier over words, characters and meaning.

Trained on the base's own questions, one class per service, plus one class per service the
base does *not* cover (the catalogue in `other_services`): a question about a passport then
has somewhere better to go than the nearest covered service. Scores become probabilities
with a softmax, so "how sure" reads the same whichever service wins.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import joblib
import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion
from sklearn.svm import LinearSVC

from nlu.normalize import normalize
from nlu.segment import tokenize, with_sounds

# Measured on the dev set (`xiaoshen eval`): C 0.5 and T 6 separate right from wrong best.
REGULARISATION = 0.5
TEMPERATURE = 6.0
DENSE_SCALE = 2.0  # the sentence vector's weight beside the two TF-IDF blocks
MAX_TEXTS_PER_SERVICE = 400  # keeps training to seconds on a 100k-entry base


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
    def __init__(self, model: LinearSVC | None, features: FeatureUnion | None,
                 names: dict[int, str]) -> None:
        self.model = model
        self.features = features
        self.names = names  # class label → service name; negative labels are not covered
        if model is not None:
            # Scored by hand with matching dtypes and layout: sklearn's decision_function
            # would copy the whole weight matrix on every call (6 ms of a 10 ms query). Rows
            # of the weights: the two TF-IDF blocks' columns, then the sentence vector's.
            self._weights = np.ascontiguousarray(model.coef_.T, dtype=np.float32)
            self._intercept = model.intercept_.astype(np.float32)
            # Per class, what a guess reports: the covered item (None if not covered), name.
            self._classes = [(int(label) if label >= 0 else None, names.get(int(label), ""))
                             for label in model.classes_]
            self._blocks = [TermWeights.of(vectorizer) for _, vectorizer in
                            features.transformer_list]

    @classmethod
    def fit(cls, texts: Sequence[str], labels: Sequence[int], vectors: np.ndarray,
            names: dict[int, str]) -> ServiceClassifier:
        """Train on (text, label) pairs; labels < 0 are services the base does not cover."""
        if len(set(labels)) < 2:  # nothing to tell apart (an empty or one-service base)
            return cls(None, None, {label: names.get(label, "") for label in set(labels)})
        chosen = _capped(labels, MAX_TEXTS_PER_SERVICE)
        features = FeatureUnion([
            ("words", TfidfVectorizer(analyzer=words, min_df=2, sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), min_df=2,
                                      preprocessor=folded, sublinear_tf=True)),
        ])
        sparse = features.fit_transform([texts[i] for i in chosen])
        matrix = hstack([sparse, csr_matrix(vectors[chosen] * DENSE_SCALE)]).tocsr()
        model = LinearSVC(C=REGULARISATION).fit(matrix, [labels[i] for i in chosen])
        return cls(model, features, names)

    def knows(self, item_no: int) -> bool:
        """Whether `item_no` is one of its classes: an entry of a service it was not trained
        on cannot be patched in before the next full build (it would never be guessed)."""
        if self.model is None:
            return item_no in self.names
        return item_no in self.model.classes_

    def guess(self, text: str, vector: np.ndarray) -> list[ServiceGuess]:
        """Every service, most likely first."""
        if self.model is None or self.features is None:
            return [ServiceGuess(label if label >= 0 else None, name, 1.0)
                    for label, name in self.names.items()][:1]
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
        joblib.dump((self.model, self.features, self.names), path)

    @classmethod
    def load(cls, path: Path) -> ServiceClassifier:
        return cls(*joblib.load(path))


@dataclass(frozen=True)
class TermWeights:
    """A fitted TfidfVectorizer's transform of one text, without sklearn's per-call checks
    (two transforms were 2.5 of a question's 7 ms): the same analyzer, vocabulary, sublinear
    term frequency, IDF and unit length (tests/kb/test_classifier.py holds them equal)."""

    analyze: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: np.ndarray

    @classmethod
    def of(cls, vectorizer: TfidfVectorizer) -> TermWeights:
        assert vectorizer.sublinear_tf and vectorizer.norm == "l2" and vectorizer.use_idf
        return cls(vectorizer.build_analyzer(), vectorizer.vocabulary_,
                   vectorizer.idf_.astype(np.float32))

    @property
    def width(self) -> int:
        return len(self.idf)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's non-zero columns and their weights."""
        counts = Counter(self.vocabulary[term] for term in self.analyze(text)
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
