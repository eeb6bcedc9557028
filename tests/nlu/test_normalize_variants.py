"""Abbreviations, homophone typos and other names of government words, rewritten before the
service decision (nlu/variants.py), and Latin synonyms matched as whole words (nlu/segment.py)."""

import pytest

from nlu.segment import expand, other_names
from nlu.variants import abbreviations, standard_wording


@pytest.mark.parametrize(
    ("typed", "standard"),
    [
        ("新办jzz费用多少", "新办居住证费用多少"),  # initials of a word of three or more
        ("开WSZM要多久", "开完税证明要多久"),  # in capitals too
        ("yyzz怎么办", "营业执照怎么办"),
        ("ccz过期了", "叉车证过期了"),
        ("fp交旧", "发票交旧"),  # two letters: listed in synonyms.txt, the canonical word
        ("代开zp", "代开增值税专用发票"),  # zp: 专票, another name of 增值税专用发票
        ("有没有户籍或者设保方面的要求", "有没有户籍或者社保方面的要求"),  # homophones
        ("失页登纪怎么办", "失业登记怎么办"),
        ("营业职照", "营业执照"),
        ("领生于津贴", "领生育津贴"),
        ("新办居注证得等几天", "新办居住证得等几天"),
        ("组房取公基金", "租房取公积金"),
        ("良民证怎么开", "无犯罪记录证明怎么开"),  # other names (synonyms.txt `=` lines)
        ("居住证延期 办理地点", "居住证签注 办理地点"),
        ("去签jzz要带啥", "去居住证签注要带啥"),
    ],
)
def test_slips_are_rewritten(typed: str, standard: str) -> None:
    assert standard_wording(typed) == standard


@pytest.mark.parametrize(
    "text",
    [
        "拿sm东西去",  # two letters nobody listed: 什么, not 实名
        "哪个app能办",  # letters inside a longer Latin word
        "生于1990年",  # a real word that sounds like 生育
        "眼睛失明了",  # 失明 is a word, not a typo of 实名
        "合同需签什么",  # 续签 is only a variant: 需签 is not rewritten to it
        "居住证签注",  # already standard
    ],
)
def test_words_are_left_alone(text: str) -> None:
    assert standard_wording(text) == text


def test_initials_shared_by_two_words_stand_for_neither() -> None:
    assert "syj" not in abbreviations()  # 失业金 and 生育金


def test_latin_synonyms_match_whole_words() -> None:
    assert "增值税普通发票" in expand("代开pp 多久")
    assert "增值税普通发票" not in expand("哪个app能开发票")


def test_other_names_are_also_synonyms() -> None:
    assert ("无犯罪记录证明", ("无犯罪证明", "良民证")) in other_names()
    assert "无犯罪记录证明" in expand("良民证怎么开")
