"""Mask personal data (ID-card and phone numbers) before text is logged or reported, in the
forms people write them: with spaces or dashes between the groups, with +86 or 0086."""

from __future__ import annotations

import re

_SEP = r"[ \-－]?"  # people group the digits with a space or a dash
# 18-digit resident ID (the last may be X): area, birth date, sequence and check digit.
_ID_CARD = re.compile(rf"(?<![\dA-Za-z])(\d{{6}}){_SEP}\d{{8}}{_SEP}(\d{{3}}[\dXx])(?![\dA-Za-z])")
# Mainland mobile, with an optional country code: 138 1234 5678, +86-138-1234-5678.
_MOBILE = re.compile(
    rf"(?<![\d+])((?:(?:\+|00)?86{_SEP})?1[3-9]\d){_SEP}\d{{4}}{_SEP}(\d{{4}})(?!\d)")
# Landline with area code: 021-62345678, (021) 6234 5678.
_LANDLINE = re.compile(r"(?<!\d)(\(?0\d{2,3}\)?[ \-]?)\d{4}[ \-]?(\d{3,4})(?!\d)")


def mask_personal_data(text: str) -> str:
    """Keep the ends of each number so staff can still match it with the citizen."""
    text = _ID_CARD.sub(r"\1********\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    return _LANDLINE.sub(r"\1****\2", text)
