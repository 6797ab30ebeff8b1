"""Which pictures the bot shows, from what data: drawn by bot.charts, uploaded by bot.transport.uploads.

Every function returns the uploaded images (or none, when a version recorded nothing to draw or
the upload failed); the blocks that show them also say in text what they show. A version's charts
never change, so they are uploaded once per process (`UploadedImages`, keyed by version and
fingerprint); drawing is cached too (the same data draws the same PNG), so a second bot in the
same process does not draw them again.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_sdk import WebClient

from bot import charts
from bot.transport.uploads import Image, UploadedImages
from ml.core.model import Prediction
from ml.core.stats import PassengerStats
from ml.io.registry import ModelVersion


def cv_bins(version: ModelVersion) -> list[dict[str, Any]] | None:
    """The out-of-fold reliability bins a version recorded (None: trained before they were kept)."""
    bins = version.info.get("cv_reliability")
    return bins if isinstance(bins, list) and bins else None


def holdout_bins(version: ModelVersion) -> list[dict[str, Any]] | None:
    bins = version.info.get("holdout_reliability")
    return bins if isinstance(bins, list) and bins else None


def mean_contributions(version: ModelVersion) -> dict[str, float] | None:
    means = version.info.get("mean_abs_contribution")
    return {str(k): float(v) for k, v in means.items()} if isinstance(means, Mapping) and means else None


@functools.lru_cache(maxsize=64)
def _draw(kind: str, data: str, title: str) -> bytes:
    """One chart from its data (JSON, so calls with equal data share the drawing)."""
    values = json.loads(data)
    if kind == "reliability":
        return charts.reliability_png(values, title)
    if kind == "contributions":
        return charts.contributions_png(values, title)
    if kind == "reasons":
        return charts.reasons_png([tuple(pair) for pair in values], title)
    if kind == "comparison":
        return charts.comparison_png([charts.Panel(**panel) for panel in values], title)
    if kind == "rates":
        return charts.rates_png([charts.Bar(**bar) for bar in values], title)
    raise ValueError(f"no chart called {kind}")


def draw(kind: str, data: Any, title: str) -> bytes:
    return _draw(kind, json.dumps(data, sort_keys=True), title)


def card_charts(version: ModelVersion) -> list[tuple[str, bytes, str, str]]:
    """The model card's charts: (file name, PNG, title, alt text) for the reliability diagram and
    the mean contribution per attribute, each only when the version recorded its data."""
    name = f"{version.model_name} {version.version}"
    out = []
    bins = cv_bins(version)
    if bins is not None:
        title = f"{name}: predicted vs observed, out of fold"
        alt = "Reliability diagram: " + reliability_sentence(bins)
        out.append((f"{version.version}-reliability.png", draw("reliability", bins, title), title, alt))
    means = mean_contributions(version)
    if means is not None:
        title = f"{name}: mean |effect| per attribute"
        alt = "Mean absolute contribution per attribute: " + contributions_sentence(means)
        out.append((f"{version.version}-contributions.png", draw("contributions", means, title), title, alt))
    return out


def _constant(png: bytes) -> Callable[[], bytes]:
    return lambda: png


def card_images(images: UploadedImages, client: WebClient, version: ModelVersion) -> list[Image]:
    """The model card's charts uploaded (once per version and process)."""
    uploaded = []
    for filename, png, title, alt in card_charts(version):
        key = f"{version.model_name}:{version.version}:{version.data_fingerprint}:{filename}"
        image = images.get(client, key, _constant(png), filename=filename, title=title, alt=alt)
        if image is not None:
            uploaded.append(image)
    return uploaded


def reasons_image(images: UploadedImages, client: WebClient, prediction: Prediction) -> Image | None:
    """An answer's reasons as bars (drawn when someone asks for the chart; not kept)."""
    reasons = [(r.text, round(r.logit, 4)) for r in prediction.reasons if abs(r.logit) >= 0.005]
    if not reasons:
        return None
    title = f"Why {prediction.headline}"
    alt = "Reasons: " + "; ".join(
        f"{text} {'raised' if v > 0 else 'lowered'} the chances" for text, v in reasons
    )
    png = draw("reasons", reasons, title)
    return images.upload(client, png, filename="reasons.png", title=title, alt=alt)


def comparison_panels(
    challenger: ModelVersion, champion: ModelVersion | None, decision: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The retrain report's two panels: the challenger's twin and the champion, each on the frozen
    holdout, as `charts.Panel` fields. The champion's side says why it has no curve when it
    recorded none or recorded them on other passengers."""
    panels = [
        {
            "label": f"{challenger.version} new (its twin)",
            "bins": holdout_bins(challenger),
            "metrics": dict(decision.get("challenger") or {}),
            "note": "" if holdout_bins(challenger) else f"{challenger.version} recorded no holdout bins",
        }
    ]
    if champion is None:
        return panels
    figures = decision.get("champion")
    bins = holdout_bins(champion) if figures else None
    if not figures:
        note = f"{champion.version}'s holdout figures\nare on other passengers\n(or it recorded none)"
    elif bins is None:
        note = f"{champion.version} was trained before\nholdout bins were recorded"
    else:
        note = ""
    panels.append(
        {
            "label": f"{champion.version} now (as recorded)",
            "bins": bins,
            "metrics": dict(figures or {}),
            "note": note,
        }
    )
    return panels


def comparison_image(
    images: UploadedImages,
    client: WebClient,
    challenger: ModelVersion,
    champion: ModelVersion | None,
    decision: Mapping[str, Any],
) -> Image | None:
    panels = comparison_panels(challenger, champion, decision)
    title = "Frozen holdout: predicted vs observed"
    alt = "; ".join(
        f"{p['label']}: " + (reliability_sentence(p["bins"]) if p["bins"] else p["note"].replace("\n", " "))
        for p in panels
    )
    png = draw("comparison", panels, title)
    return images.upload(client, png, filename=f"{challenger.version}-holdout.png", title=title, alt=alt)


def stats_image(
    images: UploadedImages, client: WebClient, stats: PassengerStats, by: Sequence[str]
) -> Image | None:
    """`/survive stats by ...`: the rate per group as bars with their 95% interval as whiskers
    (uploaded once per process for the same figures)."""
    breakdown = stats.counts.breakdown(by)
    bars = [
        {
            "label": " · ".join(row.groups),
            "rate": round(row.rate.rate, 5),
            "low": round(row.rate.interval[0], 5),
            "high": round(row.rate.interval[1], 5),
            "total": row.rate.total,
        }
        for row in breakdown.rows
    ]
    title = f"Survival by {breakdown.title.lower()} (95% intervals)"
    alt = "; ".join(f"{b['label']}: {b['rate']:.0%} of {b['total']}" for b in bars)
    png = draw("rates", bars, title)
    key = "stats:" + json.dumps([stats.version, stats.source, list(by), bars], sort_keys=True)
    name = "survival-by-" + "-".join(by) + ".png"
    return images.get(client, key, _constant(png), filename=name, title=title, alt=alt)


def reliability_sentence(bins: Sequence[Mapping[str, Any]]) -> str:
    """The diagram in words: 'predicted 5% → 9% survived (70); ...'."""
    return "; ".join(
        f"predicted {float(b['predicted']):.0%} → {float(b['observed']):.0%} survived ({int(b['count'])})"
        for b in bins
    )


def contributions_sentence(means: Mapping[str, float]) -> str:
    ranked = sorted(means.items(), key=lambda kv: -kv[1])
    return ", ".join(f"{charts.ATTRIBUTES.get(k, k)} {v:.2f}" for k, v in ranked)
