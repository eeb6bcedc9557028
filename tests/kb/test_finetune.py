"""Fine-tuning a sentence-transformers embedder on question pairs (tiny, one epoch)."""

import numpy as np

from kb.embedder import load_embedder
from kb.finetune import finetune_embedder

PAIRS = [
    ("居住证签注要带什么材料", "签注居住证需要啥"),
    ("公积金租房提取怎么办", "租房能取公积金吗"),
    ("营业执照网上怎么申请", "网上办执照的入口"),
    ("无犯罪记录证明在哪开", "开无犯罪证明去哪"),
    ("代开增值税专用发票", "怎么代开专票"),
    ("个税纳税清单怎么打印", "个税记录在哪里开"),
    ("失业登记去哪里办", "失业了要登记吗"),
    ("食品经营许可证多久能办好", "食品证办下来要几天"),
]


def test_finetune_and_load(tmp_path) -> None:
    out = finetune_embedder(PAIRS, "minilm", tmp_path / "model", epochs=1, batch_size=4,
                            show_progress=False)
    embedder = load_embedder(str(out))
    vectors = embedder.encode(["居住证签注要带什么材料", "怎么代开专票"])
    assert vectors.shape == (2, embedder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
