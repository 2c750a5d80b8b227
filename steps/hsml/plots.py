"""PNG plots for the evaluation report (matplotlib, headless Agg back end: jobs have no display)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the back end must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402


def plot_chapter_confusion(labels: Sequence[str], matrix: np.ndarray, path: str | Path) -> Path:
    """Chapter-level confusion matrix; log colour scale because the diagonal dwarfs the rest."""
    size = max(6.0, min(20.0, 0.18 * len(labels) + 3))
    fig, ax = plt.subplots(figsize=(size, size))
    shown = np.where(matrix > 0, matrix, np.nan)
    image = ax.imshow(shown, cmap="viridis", norm=LogNorm(vmin=1, vmax=max(1, int(matrix.max()))))
    ticks = np.arange(len(labels))
    font = 5 if len(labels) > 40 else 8
    ax.set_xticks(ticks, labels, rotation=90, fontsize=font)
    ax.set_yticks(ticks, labels, fontsize=font)
    ax.set_xlabel("predicted chapter (HS2)")
    ax.set_ylabel("true chapter (HS2)")
    ax.set_title(f"Chapter confusion matrix ({int(matrix.sum())} test rows)")
    fig.colorbar(image, ax=ax, shrink=0.7, label="rows")
    return _save(fig, path)


def plot_per_chapter_accuracy(per_chapter: Sequence[dict], path: str | Path) -> Path:
    """HS6 and HS2 top-1 accuracy per true chapter, with each chapter's test row count above its bar."""
    chapters = [row["chapter"] for row in per_chapter]
    x = np.arange(len(chapters))
    fig, ax = plt.subplots(figsize=(max(8.0, 0.22 * len(chapters) + 2), 4.5))
    ax.bar(x, [row["hs2_top1"] for row in per_chapter], color="#c6dbef", label="HS2 (chapter) top-1")
    ax.bar(x, [row["hs6_top1"] for row in per_chapter], color="#2171b5", width=0.5, label="HS6 top-1")
    for xi, row in zip(x, per_chapter):
        ax.text(xi, 1.01, str(row["rows"]), ha="center", va="bottom", fontsize=5, rotation=90)
    ax.set_xticks(x, chapters, rotation=90, fontsize=6)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("true chapter (numbers above bars: test rows)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy per chapter")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return _save(fig, path)


def plot_coverage_curve(curve: Sequence[dict], operating_points: Sequence[dict], path: str | Path) -> Path:
    """Left: accuracy and coverage vs threshold. Right: accuracy vs coverage (the automation trade-off)."""
    thresholds = [p["threshold"] for p in curve]
    coverage = [p["coverage"] for p in curve]
    accuracy = [np.nan if p["accuracy"] is None else p["accuracy"] for p in curve]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.plot(thresholds, accuracy, label="accuracy of auto-accepted (HS6)")
    left.plot(thresholds, coverage, label="coverage (share auto-accepted)")
    left.set_xlabel("confidence threshold (top-1 probability)")
    left.set_ylim(0, 1.02)
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.plot(coverage, accuracy, marker=".", markersize=3)
    for point in operating_points:
        if point.get("threshold") is not None:
            right.scatter([point["coverage"]], [point["accuracy"]], color="red", zorder=3)
            right.annotate(
                f"≥{point['target_accuracy']:.0%} at t={point['threshold']:.2f}: {point['coverage']:.0%} covered",
                (point["coverage"], point["accuracy"]), textcoords="offset points", xytext=(5, -12), fontsize=8,
            )
    right.set_xlabel("coverage (rest goes to a broker)")
    right.set_ylabel("accuracy (HS6)")
    right.set_xlim(0, 1.02)
    right.set_ylim(0, 1.02)
    right.grid(alpha=0.3)
    fig.suptitle("Accuracy vs coverage when only confident predictions are auto-accepted")
    return _save(fig, path)


LEVEL_COLOURS = {"hs6": "#2171b5", "hs4": "#6a51a3", "hs2": "#238b45"}


def plot_level_coverage(curves: dict[str, Sequence[dict]], operating_points: Sequence[dict], path: str | Path) -> Path:
    """Precision vs coverage of the top-1 answers at HS6, HS4 and HS2, each level's 95 % point marked."""
    fig, ax = plt.subplots(figsize=(6.5, 4.8))
    points = {p["level"]: p for p in operating_points if p.get("threshold") is not None}
    for level, curve in curves.items():
        coverage = [p["coverage"] for p in curve]
        precision = [np.nan if p["accuracy"] is None else p["accuracy"] for p in curve]
        point = points.get(level)
        label = level.upper() + (f" (95 % at t={point['threshold']:.2f}: {point['coverage']:.0%} covered)" if point
                                 else " (95 % not reached)")
        ax.plot(coverage, precision, marker=".", markersize=3, color=LEVEL_COLOURS.get(level), label=label)
        if point:  # labels in the legend: the points crowd the top left corner
            ax.scatter([point["coverage"]], [point["accuracy"]], color=LEVEL_COLOURS.get(level), zorder=3, s=30)
    ax.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("coverage (share of rows answered at that level)")
    ax.set_ylabel("precision of the answered rows")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Precision vs coverage by level (dots: lowest threshold at 95 %)")
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
