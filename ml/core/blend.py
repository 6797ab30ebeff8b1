"""A weighted blend of xgboost models, saved as one ordinary xgboost model.

The recipe averages a few search candidates in log-odds (see `ml.core.training.select_blend`). A
binary:logistic booster's log-odds are its base margin plus the sum of its trees' leaf values, so
`Σ wᵢ · log-odds(bᵢ)` with `Σ wᵢ = 1` is itself such a model: every tree of `bᵢ` with its leaves
scaled by `wᵢ`, and base margin `Σ wᵢ · base marginᵢ`. Building that model, rather than keeping a
list of boosters, leaves everything downstream unchanged: one booster file in the registry, one
`inplace_predict`, TreeSHAP on one tree list, and the same artifact logged to Snowflake.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import xgboost as xgb


def _check(document: dict[str, Any]) -> dict[str, Any]:
    learner: dict[str, Any] = document["learner"]
    if learner["objective"]["name"] != "binary:logistic":
        raise ValueError(f"can only blend binary:logistic models, not {learner['objective']['name']}")
    if learner["gradient_booster"]["name"] != "gbtree":
        raise ValueError(f"can only blend gbtree models, not {learner['gradient_booster']['name']}")
    if learner["gradient_booster"]["model"]["gbtree_model_param"]["num_parallel_tree"] != "1":
        raise ValueError("can only blend boosters grown one tree per round")
    return learner


def base_margin(learner: dict[str, Any]) -> float:
    """The model's base score (a probability, stored as '[4.1E-1]' by xgboost 3) as log-odds."""
    p = float(str(learner["learner_model_param"]["base_score"]).strip("[]"))
    return math.log(p / (1 - p))


def _scaled_tree(tree: dict[str, Any], weight: float) -> dict[str, Any]:
    # Copies only what changes: no list of a tree is mutated in place here or when merging.
    out = dict(tree)
    # A leaf's value is its split_conditions entry; base_weights holds every node's weight.
    out["split_conditions"] = [
        value * weight if left == -1 else value
        for value, left in zip(tree["split_conditions"], tree["left_children"], strict=True)
    ]
    out["base_weights"] = [value * weight for value in tree["base_weights"]]
    return out


def blend_boosters(boosters: Sequence[xgb.Booster], weights: Sequence[float]) -> xgb.Booster:
    """One booster whose log-odds are the `weights`-weighted mean of the boosters' log-odds."""
    documents = [json.loads(b.save_raw("json")) for b in boosters]
    out = xgb.Booster()
    out.load_model(bytearray(json.dumps(blend_documents(documents, weights)).encode()))
    return out


def blend_documents(documents: Sequence[dict[str, Any]], weights: Sequence[float]) -> dict[str, Any]:
    """`blend_boosters` on xgboost's JSON model documents (which it rewrites: pass fresh copies)."""
    if not documents or len(documents) != len(weights):
        raise ValueError("need one weight per booster, and at least one booster")
    if any(w <= 0 for w in weights):
        raise ValueError("blend weights must be positive")
    total = float(sum(weights))
    weights = [w / total for w in weights]
    learners = [_check(document) for document in documents]
    n_features = {lr["learner_model_param"]["num_feature"] for lr in learners}
    if len(n_features) != 1:
        raise ValueError(f"boosters disagree on the number of features: {sorted(n_features)}")

    scaled = [
        _scaled_tree(tree, weight)
        for learner, weight in zip(learners, weights, strict=True)
        for tree in learner["gradient_booster"]["model"]["trees"]
    ]
    trees = merge_identical_trees(scaled)
    margin = sum(w * base_margin(lr) for lr, w in zip(learners, weights, strict=True))

    merged = learners[0]
    merged["attributes"] = {}
    # Written the way this xgboost wrote it ('[4.1E-1]' since 3.0, '4.1E-1' before), so a
    # warehouse's older xgboost reads a blend the way it reads its own models.
    score = 1 / (1 + math.exp(-margin))
    bracketed = str(merged["learner_model_param"]["base_score"]).startswith("[")
    merged["learner_model_param"]["base_score"] = f"[{score!r}]" if bracketed else repr(score)
    model = merged["gradient_booster"]["model"]
    model["trees"] = trees
    model["tree_info"] = [0] * len(trees)
    if "iteration_indptr" in model:  # xgboost >= 2.0: where each boosting round's trees start
        model["iteration_indptr"] = list(range(len(trees) + 1))
    model["gbtree_model_param"]["num_trees"] = str(len(trees))
    return documents[0]


def _shape(tree: dict[str, Any]) -> tuple[Any, ...]:
    """Everything about a tree but its leaf values and statistics: which row lands in which leaf."""
    internal = [left != -1 for left in tree["left_children"]]
    return (
        tuple(tree["left_children"]),
        tuple(tree["right_children"]),
        tuple(tree["split_indices"]),
        tuple(c if inner else None for c, inner in zip(tree["split_conditions"], internal, strict=True)),
        tuple(tree["default_left"]),
        tuple(tree.get("split_type", ())),
        json.dumps([tree.get(k) for k in ("categories", "categories_nodes", "categories_segments")]),
    )


def merge_identical_trees(trees: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trees of the same shape as one tree with their leaf values added (the same predictions).

    Its statistics are added too: the merged covers are the pooled covers of its parts, which is
    what TreeSHAP then weighs paths by.
    """
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for tree in trees:
        key = _shape(tree)
        into = merged.get(key)
        if into is None:
            merged[key] = dict(tree)
            continue
        leaf = [left == -1 for left in tree["left_children"]]
        into["split_conditions"] = [
            a + b if is_leaf else a
            for a, b, is_leaf in zip(into["split_conditions"], tree["split_conditions"], leaf, strict=True)
        ]
        for name in ("base_weights", "sum_hessian", "loss_changes"):
            into[name] = [a + b for a, b in zip(into[name], tree[name], strict=True)]
    out = list(merged.values())
    for i, tree in enumerate(out):
        tree["id"] = i
    return out
