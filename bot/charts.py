"""Charts as PNG bytes: pure functions, data in, an image out (matplotlib's Agg renderer).

matplotlib is imported inside the functions, on the first chart drawn: an answer, the CLI and the
bot's start do not pay for it. Figures are built with matplotlib's object API (no pyplot, no global
state), so listener threads can draw at the same time. Charts are small (about 640×360 pixels at
100 dpi, 20–40 kB): Slack shows them at message width.

What they draw comes from what a version recorded when it was trained (ModelVersion.info): the
out-of-fold reliability bins of its nested cross-validation, its twin's bins on the frozen holdout,
the mean |SHAP| per attribute over its training rows. Nothing here refits or scores a model.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Bins = Sequence[Mapping[str, Any]]  # {"predicted", "observed", "count", ...}, as ml.core.metrics makes them

WIDTH, HEIGHT, DPI = 6.4, 3.6, 100
UP, DOWN, NEUTRAL, INK = "#2e7d32", "#c62828", "#1f5f8b", "#333333"
ATTRIBUTES = {
    "sex": "Sex",
    "pclass": "Class",
    "title": "Title",
    "age": "Age",
    "family": "Family",
    "fare": "Fare",
    "embarked": "Port",
}


def _figure(width: float = WIDTH, height: float = HEIGHT) -> Any:
    from matplotlib.figure import Figure  # lazily: see the module docstring

    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    figure.set_facecolor("white")
    return figure


def _png(figure: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _style(axes: Any) -> None:
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(colors=INK, labelsize=8)


def reasons_png(reasons: Sequence[tuple[str, float]], title: str) -> bytes:
    """An answer's reasons as horizontal bars: each reason's effect on the odds (SHAP, log-odds),
    green when it raised the chances, red when it lowered them, largest at the top."""
    shown = list(reasons)[:7][::-1]
    figure = _figure(height=0.45 * len(shown) + 1.1)
    axes = figure.add_subplot()
    values = [value for _, value in shown]
    axes.barh(range(len(shown)), values, color=[UP if v > 0 else DOWN for v in values], height=0.6)
    axes.set_yticks(range(len(shown)), [text for text, _ in shown], fontsize=8)
    axes.axvline(0, color=INK, linewidth=0.8)
    axes.set_xlabel("effect on the odds of surviving (log-odds)", fontsize=8, color=INK)
    axes.set_title(title, fontsize=10, color=INK, loc="left")
    _style(axes)
    return _png(figure)


def _reliability(axes: Any, bins: Bins, title: str, note: str = "") -> None:
    axes.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=0.8)
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.02, 1.05)
    axes.set_xlabel("predicted chance of surviving", fontsize=8, color=INK)
    axes.set_ylabel("observed survival rate", fontsize=8, color=INK)
    axes.set_title(title, fontsize=9, color=INK, loc="left")
    _style(axes)
    if not bins:
        axes.text(0.5, 0.5, note or "not recorded", ha="center", va="center", fontsize=8, wrap=True)
        return
    xs = [float(b["predicted"]) for b in bins]
    ys = [float(b["observed"]) for b in bins]
    counts = [int(b["count"]) for b in bins]
    largest = max(counts)
    axes.plot(xs, ys, color=NEUTRAL, linewidth=1.2)
    axes.scatter(xs, ys, s=[20 + 120 * c / largest for c in counts], color=NEUTRAL, zorder=3)
    for x, y, count in zip(xs, ys, counts, strict=True):
        axes.annotate(str(count), (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=7)
    if note:
        axes.text(0.02, 0.97, note, transform=axes.transAxes, va="top", fontsize=7, color=INK)


def reliability_png(bins: Bins, title: str, note: str = "") -> bytes:
    """The reliability diagram: mean predicted probability against the observed survival rate per
    bin, the diagonal where they agree, each point's size and label its number of predictions."""
    figure = _figure(5.2, 4.0)
    _reliability(figure.add_subplot(), bins, title, note)
    return _png(figure)


def contributions_png(means: Mapping[str, float], title: str) -> bytes:
    """The mean |contribution| per attribute (SHAP, log-odds), largest at the top."""
    shown = sorted(means.items(), key=lambda kv: kv[1])
    figure = _figure(height=0.4 * len(shown) + 1.1)
    axes = figure.add_subplot()
    axes.barh(range(len(shown)), [v for _, v in shown], color=NEUTRAL, height=0.6)
    axes.set_yticks(range(len(shown)), [ATTRIBUTES.get(k, k) for k, _ in shown], fontsize=8)
    axes.set_xlabel("mean |effect on the odds| over the training passengers (log-odds)", fontsize=8)
    axes.set_title(title, fontsize=10, color=INK, loc="left")
    _style(axes)
    return _png(figure)


@dataclass(frozen=True)
class Panel:
    """One side of a comparison: a label, its bins (None: not recorded) and its metrics."""

    label: str
    bins: Bins | None
    metrics: Mapping[str, float] = field(default_factory=dict)
    note: str = ""


METRIC_LABELS = (("log_loss", "log loss"), ("brier", "Brier"), ("accuracy", "accuracy"), ("roc_auc", "AUC"))


def _metrics_text(metrics: Mapping[str, float]) -> str:
    return "  ".join(f"{label} {float(metrics[key]):.3f}" for key, label in METRIC_LABELS if key in metrics)


def comparison_png(panels: Sequence[Panel], title: str) -> bytes:
    """Reliability curves side by side (challenger and champion on the frozen holdout), each with
    its metrics under its name; a side that recorded no bins says why instead of a curve."""
    figure = _figure(4.0 * len(panels), 4.4)
    figure.suptitle(title, fontsize=10, color=INK)
    for index, panel in enumerate(panels, start=1):
        axes = figure.add_subplot(1, len(panels), index)
        label = f"{panel.label}\n{_metrics_text(panel.metrics)}" if panel.metrics else panel.label
        _reliability(axes, panel.bins or [], label, panel.note)
    return _png(figure)


@dataclass(frozen=True)
class Bar:
    """One group's survival rate with its 95% interval and its size."""

    label: str
    rate: float
    low: float
    high: float
    total: int


def rates_png(bars: Sequence[Bar], title: str) -> bytes:
    """Survival rate per group as bars with their 95% interval as whiskers, n under each label."""
    figure = _figure(min(10.0, max(4.0, 0.7 * len(bars) + 1.5)), 3.6)
    axes = figure.add_subplot()
    xs = range(len(bars))
    rates = [b.rate for b in bars]
    errors = [[b.rate - b.low for b in bars], [b.high - b.rate for b in bars]]
    axes.bar(xs, rates, color=NEUTRAL, width=0.6, yerr=errors, capsize=4, ecolor=INK)
    axes.set_xticks(list(xs), [f"{b.label}\nn={b.total}" for b in bars], fontsize=7 if len(bars) <= 10 else 6)
    axes.set_ylim(0, 1)
    axes.set_ylabel("survived", fontsize=8, color=INK)
    axes.yaxis.set_major_formatter(lambda value, _pos: f"{value:.0%}")
    axes.set_title(title, fontsize=10, color=INK, loc="left")
    _style(axes)
    return _png(figure)
