"""Real citizen messages: a greeting to officials followed by a story and a question is a
question, not small talk."""

from __future__ import annotations

import re

from nlu.normalize import normalize

_SALUTATION = re.compile(
    r"尊敬的|各位|亲爱的|领导|区长|市长|书记|局长|主任|处长|同志|工作人员|老师|客服|小申|机器人|"
    r"你们?好|您们?好|早上好|上午好|下午好|晚上好|在吗|在不在|打扰了|打扰一下|冒昧|谢谢|感谢|"
    r"hello|hi|[\s\W\d_]+",
    re.IGNORECASE,
)
MIN_CONTENT_CHARS = 6  # "你好小申" carries nothing; "您好，我想问下居住证" does


def carries_question(text: str) -> bool:
    """True when something beyond greetings and thanks is left in the message."""
    return len(_SALUTATION.sub("", normalize(text))) >= MIN_CONTENT_CHARS
