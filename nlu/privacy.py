"""Mask personal data (ID-card and phone numbers) before text is logged or reported."""

from __future__ import annotations

import re

# 18-digit resident ID (last may be X), 11-digit mainland mobile, landline with area code.
_ID_CARD = re.compile(r"(?<!\d)(\d{6})\d{8}(\d{3}[\dXx])(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(1[3-9]\d)\d{4}(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)\d{4}(\d{3,4})(?!\d)")


def mask_personal_data(text: str) -> str:
    """Keep the ends of each number so staff can still match it with the citizen."""
    text = _ID_CARD.sub(r"\1********\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    return _LANDLINE.sub(r"\1****\2", text)
