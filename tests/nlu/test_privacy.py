"""Masking of phone and ID-card numbers in the forms people write them: with +86, with spaces
or dashes between the groups. The middle digits are hidden, the ends kept (staff still match
a number with the citizen); other numbers in government-service talk stay as they are."""

import pytest

from nlu.privacy import mask_personal_data


@pytest.mark.parametrize(("text", "expected"), [
    ("我的手机+8613812345678", "我的手机+86138****5678"),
    ("我的手机+86 138 1234 5678", "我的手机+86 138****5678"),
    ("电话138-1234-5678，谢谢", "电话138****5678，谢谢"),
    ("电话138 1234 5678，谢谢", "电话138****5678，谢谢"),
    ("电话13812345678，谢谢", "电话138****5678，谢谢"),
    ("身份证310101 19900101 1234", "身份证310101********1234"),
    ("身份证310101-19900101-123X号", "身份证310101********123X号"),
    ("身份证310101199001011234", "身份证310101********1234"),
    ("座机021-62345678", "座机021-****5678"),
])
def test_phone_and_id_numbers_keep_only_their_ends(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected


@pytest.mark.parametrize("text", [
    "办理费用1380元，另收工本费20元",
    "2026-12-02 到期，请在 2026-12-01 前办理",
    "事项编号 06，办件编号 2021",
    "政务服务热线12345",
    "共 12345678 元",
    "第 138 号窗口，15 个工作日",
    "营业执照统一社会信用代码 91310000MA1FL1234X",
])
def test_other_numbers_are_left_alone(text: str) -> None:
    assert mask_personal_data(text) == text
