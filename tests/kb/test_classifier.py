"""The service classifier scores a question by hand (kb/classifier.py TermWeights) exactly as
sklearn's transform and product would."""

import json

import numpy as np
from scipy.sparse import csr_matrix, hstack

from kb.classifier import DENSE_SCALE, TEMPERATURE
from xiaoshen import settings


def sklearn_probabilities(classifier, text: str, vector: np.ndarray) -> np.ndarray:
    parts = [vectorizer.transform([text]) for _, vectorizer in
             classifier.features.transformer_list]
    row = hstack([*parts, csr_matrix(vector.reshape(1, -1) * DENSE_SCALE)], format="csr")
    scores = classifier.model.decision_function(row)[0] * TEMPERATURE
    probabilities = np.exp(scores - scores.max())
    return probabilities / probabilities.sum()


def test_guesses_match_sklearn(seed_retriever) -> None:
    classifier = seed_retriever.live.current().services
    devset = (settings.ROOT / "eval" / "devset.jsonl").read_text("utf-8").splitlines()
    texts = [json.loads(line)["text"] for line in devset[:150] if line.strip()]
    texts += ["", "？？", "ＡＢＣ abc 123", "护照", "居" * 300]
    for text in texts:
        vector = seed_retriever.embedder.encode([text])[0]
        guesses = classifier.guess(text, vector)
        expected = sklearn_probabilities(classifier, text, vector)
        by_class = {(g.item_no if g.item_no is not None else g.name): g.probability
                    for g in guesses}
        assert len(guesses) == len(expected)
        assert guesses[0].probability == max(by_class.values())
        ours = np.array([by_class[item if item is not None else name]
                         for item, name in classifier._classes])
        assert np.abs(ours - expected).max() < 1e-4, text
        assert np.argmax(ours) == np.argmax(expected), text
