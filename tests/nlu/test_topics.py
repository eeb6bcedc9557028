import pytest

from nlu.topics import detect_topic, detect_topics, residual, topics
from nlu.triage import carries_question


@pytest.mark.parametrize(("text", "topic", "rest"), [
    ("那要带什么材料", "materials", ""), ("多久能到账", "time_limit", ""), ("收费吗", "fees", ""),
    ("在哪办", "location", ""), ("网上能办吗", "steps", ""), ("要本人去吗", "conditions", ""),
    ("有效期多久", "time_limit", ""), ("外地户口也能办吗", "conditions", ""),
    ("那退休的呢", None, "退休"), ("专票呢", None, "专票"),
    ("个税清单怎么开", "steps", "税清单开"),
])
def test_topic_and_residual(text, topic, rest) -> None:
    assert (detect_topic(text), residual(text)) == (topic, rest)


@pytest.mark.parametrize(("text", "asked"), [
    # The asking words, not the story around them: 户口 and 外地 tell who is asking.
    ("上海户口 刚失业 失业登记怎么办", ["steps"]),
    ("退休了去哪里办公积金提取", ["location"]),
    ("我是外地户口，去年刚来上海工作，居住证快到期了，请问居住证续期怎么办理？", ["steps"]),
    ("我是外地户口，失业登记要带什么材料", ["materials"]),
    ("外地户口也能办吗", ["conditions"]),
    ("教师资格认定在哪里办理？", ["location"]),  # 资格 names the service
    ("去街道能办吗", ["location"]),  # the yes-no tail belongs to where
    # Several, in the order asked.
    ("要带什么材料，多久能拿到", ["materials", "time_limit"]),
    ("改社保里的单位地址多久能拿到，要交钱吗？", ["time_limit", "fees"]),
    ("我是外地户口在上海打工，叉车证去哪个窗口，需要什么条件？", ["location", "conditions"]),
    # After "想问下" a clause asks without a question word; going in person asks who must
    # apply and how.
    ("想问下教师资格认定对户口有要求，还有多长时间出结果", ["conditions", "time_limit"]),
    ("想问下公积金提取要本人去，还有要带哪些证件？", ["conditions", "steps", "materials"]),
    ("无犯罪记录证明哪个中心能办呢？", ["location"]),
    ("谁可以申请呀，要花多少钱呢？", ["conditions", "fees"]),
    ("开公司一周能搞定不？", ["time_limit"]), ("特种设备操作证的申请材料有哪些？", ["materials"]),
    ("养老金卡调整的办理时间是几点到几点", ["location"]),  # opening hours: the where entry
    # A clause without a cue of its own: a how asks the steps, a may asks who may apply.
    ("居住证快过期了咋续签呀，要多久弄好", ["steps", "time_limit"]),
    ("没有租房合同能取公积金付房租不？取的话多久到账", ["conditions", "time_limit"]),
    ("非师范生认定教资有啥条件啊，要交钱不", ["conditions", "fees"]),  # a clause ending in 不
    ("租房提取公积金，每个月最多能提多少", []),  # an amount, not who may
    # Common slips.
    ("暂住登记的办理条见是什么？", ["conditions"]), ("设保单位基本信息变更收废吗", ["fees"]),
    ("你好", []),
])
def test_the_aspects_asked(text, asked) -> None:
    assert detect_topics(text) == asked


def test_topics_are_those_of_the_entries() -> None:
    assert set(topics()) == {"conditions", "materials", "steps", "time_limit", "fees",
                             "location", "other"}


@pytest.mark.parametrize(("text", "question"), [
    ("你好", False), ("您好小申", False), ("领导您好！", False), ("谢谢", False),
    ("领导您好，请问我家那块有拆迁计划吗", True), ("您好，我想问下居住证签注", True),
])
def test_a_greeting_carries_a_question_or_not(text, question) -> None:
    assert carries_question(text) is question
