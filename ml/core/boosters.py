"""xgboost model documents (the JSON xgboost saves), edited as plain data.

Two edits: the recipe's booster gets the 12-number table as its first tree (`with_first_tree`),
and the bootstrap members behind an answer's range are packed into one multi-output booster
(`pack_members`), so one `inplace_predict` call returns every member's log-odds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import xgboost as xgb

Document = dict[str, Any]


def document(booster: xgb.Booster) -> Document:
    parsed: Document = json.loads(booster.save_raw("json"))
    return parsed


def booster_from(doc: Document, *, nthread: int = 1) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(json.dumps(doc).encode()))
    booster.set_param({"nthread": nthread})
    return booster


def _model(doc: Document) -> dict[str, Any]:
    model: dict[str, Any] = doc["learner"]["gradient_booster"]["model"]
    return model


def trees(doc: Document) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _model(doc)["trees"]
    return found


def base_score(doc: Document) -> float:
    """The base score, a probability (xgboost 3 writes '[5E-1]', older versions '5E-1')."""
    return float(str(doc["learner"]["learner_model_param"]["base_score"]).strip("[]"))


def set_trees(doc: Document, new: Sequence[dict[str, Any]], tree_info: Sequence[int] | None = None) -> None:
    """Replace the document's trees (one per boosting round, each for output `tree_info[i]`)."""
    model = _model(doc)
    model["trees"] = [{**tree, "id": i} for i, tree in enumerate(new)]
    model["tree_info"] = list(tree_info) if tree_info is not None else [0] * len(new)
    model["iteration_indptr"] = list(range(len(new) + 1))
    model["gbtree_model_param"]["num_trees"] = str(len(new))


def with_first_tree(doc: Document, first: dict[str, Any]) -> Document:
    """`doc` (trained from a base margin, base score 0.5) with `first` as tree 0: its leaves are the
    base margin the other trees were boosted from, so the model needs no base margin any more."""
    if base_score(doc) != 0.5:
        raise ValueError("a booster given a first tree must have base score 0.5 (zero base margin)")
    set_trees(doc, [first, *trees(doc)])
    return doc


def _shape(tree: dict[str, Any]) -> tuple[Any, ...]:
    """Everything about a tree but its leaf values and statistics: which row lands in which leaf."""
    internal = [left != -1 for left in tree["left_children"]]
    return (
        tuple(tree["left_children"]),
        tuple(tree["right_children"]),
        tuple(tree["split_indices"]),
        tuple(c if inner else None for c, inner in zip(tree["split_conditions"], internal, strict=True)),
        tuple(tree["default_left"]),
    )


def merge_identical_trees(found: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trees of the same shape as one tree with their leaf values added: the same predictions from
    fewer trees (shallow trees on a few columns repeat often)."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for tree in found:
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
    return list(merged.values())


def pack_members(members: Sequence[Document]) -> Document:
    """Members (binary:logistic documents with base score 0.5) as one multi-output booster:
    `inplace_predict(..., predict_type="margin")` gives one column of log-odds per member."""
    if not members:
        raise ValueError("no members to pack")
    packed_trees: list[dict[str, Any]] = []
    tree_info: list[int] = []
    for k, member in enumerate(members):
        if base_score(member) != 0.5:
            raise ValueError("members must have base score 0.5 (zero base margin)")
        own = merge_identical_trees(trees(member))
        packed_trees += own
        tree_info += [k] * len(own)
    doc: Document = json.loads(json.dumps(members[0]))
    params = doc["learner"]["learner_model_param"]
    params["num_target"] = str(len(members))
    params["base_score"] = "[" + ",".join(["5E-1"] * len(members)) + "]"
    params["boost_from_average"] = "0"
    set_trees(doc, packed_trees, tree_info)
    _model(doc)["iteration_indptr"] = [0, len(packed_trees)]  # one "round" holding every tree
    return doc
