"""Xiaoshen's intent classifier: logistic regression over the sparse features, no TensorFlow.

DIETClassifier made Rasa load TensorFlow (≈ 530 MiB of the Rasa server's 830, and most of its
start). Rasa's own LogisticRegressionClassifier is not a drop-in: it weighs the classes
"balanced" (fixed in its code), so the 14 small intents outvote ask_service (its 2,300
examples) on short answers such as 签注 or 专票, and it fails on a message without features
(punctuation only). This one:

- weighs every example alike (`class_weight`, None by default);
- scales each message's features to unit length and fits no intercept, so an intent is told
  by the direction of a message's features alone: a two-character answer to a clarifying
  question (签注) and a long first question are compared alike, and no intent wins on its
  prior (short-example intents such as affirm had it over ask_service for short answers);
- leaves a message without features unclassified (no intent): the FallbackClassifier then
  says nlu_fallback, as DIET did for them;
- reads the sparse sentence features only (the pipeline has no dense featurizer);
- keeps its fitted weights as plain arrays (`weights.npz`, read without pickle), not with
  skops: skops' check for untrusted types looks every numpy ufunc up in every loaded module,
  3 of Rasa's 7.5 s start.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from scipy.sparse import csr_matrix, hstack, vstack
from sklearn.preprocessing import normalize

WEIGHTS = "weights.npz"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class IntentClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**LogisticRegressionClassifier.get_default_config(),
                "C": 1.0, "class_weight": None, "fit_intercept": False, "max_iter": 1000}

    def __init__(self, config: dict[str, Any], name: str, model_storage: ModelStorage,
                 resource: Resource) -> None:
        super().__init__(config, name, model_storage, resource)
        self.clf.set_params(C=self.config["C"], class_weight=self.config["class_weight"],
                            fit_intercept=self.config["fit_intercept"])

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as model_dir:
            np.savez(model_dir / WEIGHTS, coef=self.clf.coef_, intercept=self.clf.intercept_,
                     classes=self.clf.classes_)

    @classmethod
    def load(cls, config: dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> IntentClassifier:
        try:
            with model_storage.read_from(resource) as model_dir:
                if (model_dir / WEIGHTS).is_file():
                    with np.load(model_dir / WEIGHTS, allow_pickle=False) as weights:
                        component = cls(config, execution_context.node_name, model_storage,
                                        resource)
                        component.clf.coef_ = weights["coef"]
                        component.clf.intercept_ = weights["intercept"]
                        component.clf.classes_ = weights["classes"]
                        component.clf.n_features_in_ = component.clf.coef_.shape[1]
                        return component
        except ValueError:  # no such resource: nothing was trained
            pass
        # A model saved before weights.npz (skops), or none: Rasa's own loading
        return super().load(config, model_storage, resource, execution_context, **kwargs)

    def _create_X(self, messages: list[Message]) -> csr_matrix:
        # Rasa's stacks each message's sparse features beside its dense ones, then all rows:
        # two scipy stackings per message (6% of Rasa's time per message), and each through
        # `get_sparse_features`, which deep-copies and joins the token-level features too
        # (5% more). The pipeline has no dense featurizer: the sentence rows, joined in the
        # featurizers' order as Rasa joins them, are the matrix, in training as in prediction.
        return normalize(vstack([hstack([features.features
                                         for features in sentence_features(message)])
                                 for message in messages], format="csr"))

    def process(self, messages: list[Message]) -> list[Message]:
        featured = []
        for message in messages:
            if has_sentence_features(message):
                featured.append(message)
            else:
                message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
                message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        if featured:
            super().process(featured)
        return messages


def sentence_features(message: Message) -> list[Any]:
    """The sparse sentence features of the message's text, in the featurizers' order."""
    return [features for features in message.features
            if features.is_sparse() and features.type == FEATURE_TYPE_SENTENCE
            and features.attribute == TEXT]


def has_sentence_features(message: Message) -> bool:
    """Whether a featurizer gave the message's text sentence features, asked without
    `get_sparse_features`, which stacks them all into one matrix (≈ 0.3 ms a call)."""
    return bool(sentence_features(message))
