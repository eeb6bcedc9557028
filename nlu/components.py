"""Custom Rasa components (loaded by the Rasa server, Python 3.10)."""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from nlu.normalize import normalize


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class NormalizingJiebaTokenizer(JiebaTokenizer):
    """JiebaTokenizer that first folds width, script (繁→简) and stray spaces.

    Normalising inside the tokenizer keeps the model's input identical to the knowledge
    base's, without a separate component that rewrites the message text.
    """

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        text = message.get(attribute) or ""
        message.set(attribute, normalize(text))
        return super().tokenize(message, attribute)
