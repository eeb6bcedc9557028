import pytest

from nlu.normalize import MAX_CHARS, normalize
from nlu.privacy import mask_personal_data
from nlu.segment import dictionary_terms, tokenize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("居住證怎麼簽注", "居住证怎么签注"),
        ("ＡＢＣ１２３", "ABC123"),
        ("营业 执照  怎么办", "营业执照怎么办"),
        ("my 公积金  how", "my 公积金 how"),
        ("  \t\n ", ""),
        ("hello\x00\x07世界", "hello 世界"),
        ("\u200b公积金\ufeff", "公积金"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_cuts_long_messages() -> None:
    assert len(normalize("居" * 10_000)) == MAX_CHARS


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("身份证310101199001011234", "身份证310101********1234"),
        ("身份证31010119900101123X号", "身份证310101********123X号"),
        ("手机13912345678", "手机139****5678"),
        ("电话021-65432100", "电话021-****2100"),
        ("办件编号2021", "办件编号2021"),
    ],
)
def test_mask_personal_data(text: str, expected: str) -> None:
    assert mask_personal_data(text) == expected


def test_tokenize_keeps_government_terms_and_drops_particles() -> None:
    tokens = tokenize("请问居住证签注需要什么材料呢？")
    # Once service names are taught to jieba (any index build), 居住证签注 is one word.
    assert {"居住证", "居住证签注"} & set(tokens)
    assert "材料" in tokens
    assert "呢" not in tokens and "请问" not in tokens and "？" not in tokens


def test_tokenize_bigrams_survive_typos() -> None:
    assert "居住" in tokenize("居住证签住")


def test_dictionary_terms_split_service_names() -> None:
    name = "道路货运经营许可—道路货物运输（除危险货物运输）道路运输证新增、变更"
    terms = dictionary_terms([name])
    assert "道路货物运输" in terms
    assert "一网通办" in terms
