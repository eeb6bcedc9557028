"""The intent classifier (bot/intent_classifier.py) in Rasa's own environment: short and long
messages alike are compared by their direction, and a message without features is left to
the FallbackClassifier instead of failing."""

from __future__ import annotations

import subprocess

from xiaoshen import settings
from xiaoshen.stack import service_env

CHECK = """
import tempfile
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.intent_classifier import IntentClassifier


def message(counts, intent=None):
    data = {"text": "text", **({"intent": intent} if intent else {})}
    message = Message(data=data)
    if counts is not None:
        matrix = csr_matrix(np.array([counts], dtype=float))
        message.add_features(Features(matrix, "sentence", "text", "test"))
    return message


examples = ([message([5 + n % 3, 0, 1], "ask_service") for n in range(40)]
            + [message([0, 2, 0], "affirm") for _ in range(5)])
storage = LocalModelStorage(Path(tempfile.mkdtemp()))
classifier = IntentClassifier({"C": 30}, "intent", storage, Resource("intent"))
assert classifier.clf.class_weight is None
classifier.train(TrainingData(examples))

short, long, affirm, empty = classifier.process(
    [message([1, 0, 0]), message([6, 0, 0]), message([0, 1, 0]), message(None)])
assert short.get("intent")["name"] == long.get("intent")["name"] == "ask_service"
assert abs(short.get("intent")["confidence"] - long.get("intent")["confidence"]) < 1e-9
assert affirm.get("intent")["name"] == "affirm"
assert empty.get("intent") == {"name": None, "confidence": 0.0}, empty.get("intent")
assert empty.get("intent_ranking") == []

from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

# Saved and loaded as plain arrays: the same probabilities, and nothing trained, nothing read.
from rasa.engine.graph import ExecutionContext, GraphSchema
context = ExecutionContext(GraphSchema({}), node_name="intent")
loaded = IntentClassifier.load({"C": 30}, storage, Resource("intent"), context)
probe = [message([2, 0, 1]), message([0, 3, 0]), message([1, 1, 0])]
assert list(loaded.clf.classes_) == list(classifier.clf.classes_)
assert (loaded.clf.predict_proba(loaded._create_X(probe))
        == classifier.clf.predict_proba(classifier._create_X(probe))).all()
assert loaded.process([message([0, 1, 0])])[0].get("intent")["name"] == "affirm"
# A model saved before weights.npz (with skops) still loads, through Rasa's own loading.
skops_saved = IntentClassifier({"C": 30}, "intent", storage, Resource("skops"))
skops_saved.clf = classifier.clf
LogisticRegressionClassifier.persist(skops_saved)
from_skops = IntentClassifier.load({"C": 30}, storage, Resource("skops"), context)
assert (from_skops.clf.predict_proba(from_skops._create_X(probe))
        == classifier.clf.predict_proba(classifier._create_X(probe))).all()
untrained = IntentClassifier.load({"C": 30}, storage, Resource("never trained"), context)
assert not hasattr(untrained.clf, "coef_")

# The same rows as Rasa's own stacking, scaled to unit length.
from sklearn.preprocessing import normalize
rows = [message([3, 0, 1]), message([0, 2, 0]), message([1, 1, 1])]
for row, (extra, tokens) in zip(rows, [([2, 0], 2), ([0, 1], 3), ([1, 4], 1)]):
    # As in the pipeline: several featurizers' sentence rows, and token-level rows.
    row.add_features(Features(csr_matrix(np.array([extra], dtype=float)), "sentence", "text",
                              "second"))
    row.add_features(Features(csr_matrix(np.ones((tokens, 3))), "sequence", "text", "test"))
ours = classifier._create_X(rows)
rasa = normalize(LogisticRegressionClassifier._create_X(classifier, rows))
assert ours.shape == rasa.shape and abs(ours - rasa).max() < 1e-12

fallback = FallbackClassifier({**FallbackClassifier.get_default_config(), "threshold": 0.35})
assert fallback.process([empty])[0].get("intent")["name"] == "nlu_fallback"
print("ok")
"""


def test_short_long_and_featureless_messages() -> None:
    result = subprocess.run([settings.load().rasa_python, "-c", CHECK], cwd=settings.ROOT,
                            env=service_env(settings.load()), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
