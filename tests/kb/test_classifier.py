"""The service classifier scores a question by hand (kb/classifier.py), from plain arrays saved
without pickle, exactly as sklearn's transform and product on the fitted objects would."""

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer

from kb.classifier import (
    CHAR_NGRAMS,
    DENSE_SCALE,
    TEMPERATURE,
    ServiceClassifier,
    char_wb_ngrams,
    fit_models,
    folded,
)
from kb.index import questions_of
from kb.snapshot import classifier_examples
from xiaoshen import settings

ODD_TEXTS = ["", "？？", "ＡＢＣ abc 123", "护照", "居" * 300, "  a  b\t\u3000c ", "x", "ab"]


def dev_texts(count: int) -> list[str]:
    devset = (settings.ROOT / "eval" / "devset.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line)["text"] for line in devset[:count] if line.strip()] + ODD_TEXTS


@pytest.fixture(scope="module")
def fitted(seed_retriever, tmp_path_factory: pytest.TempPathFactory):
    """sklearn's fitted objects on the seed base's training data, and the classifier made
    from them, saved and loaded again."""
    kb = seed_retriever.kb
    extra, names = classifier_examples(kb.items(), kb.other_services())
    live = kb.live_entries(date.today())
    texts = questions_of(live) + [text for text, _ in extra]
    labels = [entry.item_no for entry in live for _ in entry.questions] + [
        label for _, label in extra]
    vectors = seed_retriever.embedder.encode(texts)
    model, features = fit_models(texts, labels, vectors)
    path = Path(tmp_path_factory.mktemp("classifier")) / "services.npz"
    ServiceClassifier.fitted(model, features, names).save(path)
    return model, features, ServiceClassifier.load(path)


def sklearn_probabilities(model, features, text: str, vector: np.ndarray) -> np.ndarray:
    parts = [vectorizer.transform([text]) for _, vectorizer in features.transformer_list]
    row = hstack([*parts, csr_matrix(vector.reshape(1, -1) * DENSE_SCALE)], format="csr")
    scores = model.decision_function(row)[0] * TEMPERATURE
    probabilities = np.exp(scores - scores.max())
    return probabilities / probabilities.sum()


def test_guesses_of_the_loaded_classifier_match_sklearn(fitted, seed_retriever) -> None:
    model, features, classifier = fitted
    assert all(classifier.knows(int(label)) for label in model.classes_ if label >= 0)
    for text in dev_texts(150):
        vector = seed_retriever.embedder.encode([text])[0]
        guesses = classifier.guess(text, vector)
        expected = sklearn_probabilities(model, features, text, vector)
        by_class = {(g.item_no if g.item_no is not None else g.name): g.probability
                    for g in guesses}
        assert len(guesses) == len(expected)
        assert guesses[0].probability == max(by_class.values())
        ours = np.array([by_class[item if item is not None else name]
                         for item, name in classifier._classes])
        assert np.abs(ours - expected).max() < 1e-4, text
        assert np.argmax(ours) == np.argmax(expected), text


def test_character_ngrams_are_sklearns() -> None:
    analyzer = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS,
                               preprocessor=folded).build_analyzer()
    for text in dev_texts(400):
        assert char_wb_ngrams(folded(text)) == analyzer(text), text


def test_a_base_with_one_service_saves_and_loads(tmp_path: Path) -> None:
    classifier = ServiceClassifier.fit(["居住证"], [3], np.zeros((1, 4), np.float32), {3: "居住证"})
    classifier.save(tmp_path / "services.npz")
    again = ServiceClassifier.load(tmp_path / "services.npz")
    assert again.knows(3) and not again.knows(4)
    assert [tuple(g) for g in again.guess("随便", np.zeros(4, np.float32))] == [(3, "居住证", 1.0)]
