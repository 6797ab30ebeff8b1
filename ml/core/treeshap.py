"""Exact SHAP values for one row of an xgboost tree ensemble, in numpy, without a DMatrix.

xgboost's `pred_contribs` needs a DMatrix, and building one costs more than the whole rest of
explaining a single passenger. The ensemble is small (a few hundred shallow trees), so this module
reads its trees once and computes the same path-dependent TreeSHAP values (Lundberg et al. 2018)
with a few array operations over all leaves at once.

Each leaf contributes `value × Π_d (o_d if d is known else z_d)` over the distinct features `d`
on its path, where `o_d` is 1 when the row follows the leaf's path at every split on `d` and `z_d`
is the product of the cover fractions of those splits. The Shapley value of such a product game
for feature `i` among the leaf's `k` features is

    value × (o_i - z_i) × Σ_s s!(k-s-1)!/k! × e_s(others),

where `e_s` sums, over the subsets of size `s` of the other features, the products of their `o`
(inside the subset) and `z` (outside it). Summed over all leaves this is exactly what xgboost's
TreeSHAP computes; tests compare the two.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_DEPTH = 8  # the per-leaf table has 2**depth rows: fine for shallow trees only


@dataclass(frozen=True)
class TreeExplainer:
    """An ensemble's leaves as arrays (L leaves, paths padded to D steps), and for every leaf and
    every way a row can follow or leave its path (2**D patterns), the SHAP values it contributes."""

    n_features: int
    bias: float  # the expected margin: base margin plus each tree's cover-weighted mean leaf value
    step_feature: np.ndarray  # (L, D) the feature each step of the path tests (0 for padding)
    step_threshold: np.ndarray  # (L, D) float32 split value: a row goes left when x < threshold
    step_left: np.ndarray  # (L, D) the path goes left at this step
    step_default_left: np.ndarray  # (L, D) a missing value goes left at this step
    slot_feature: np.ndarray  # (L, K=D) the distinct features of the path; n_features for padding
    table: np.ndarray  # (L * 2**D, K) SHAP value of each slot, by leaf and pattern
    leaf_offset: np.ndarray  # (L,) first row of each leaf in `table`
    step_bit: np.ndarray  # (D,) 2**step

    @classmethod
    def from_booster(cls, booster: Any) -> TreeExplainer:
        """Read the trees of a binary:logistic xgboost gbtree model with numerical splits."""
        model = json.loads(booster.save_raw("json"))["learner"]
        objective = model["objective"]["name"]
        if objective != "binary:logistic":
            raise ValueError(f"TreeExplainer supports binary:logistic models, not {objective}")
        n_features = int(model["learner_model_param"]["num_feature"])
        base_score = float(model["learner_model_param"]["base_score"].strip("[]"))
        leaves: list[Leaf] = []
        for tree in model["gradient_booster"]["model"]["trees"]:
            leaves += _leaves(tree)
        # The expected margin: the base margin plus each tree's cover-weighted mean leaf value.
        bias = math.log(base_score / (1 - base_score)) + sum(leaf.value * leaf.weight for leaf in leaves)
        depth = max([1, *(len(leaf.path) for leaf in leaves)])
        if depth > MAX_DEPTH:
            raise ValueError(f"TreeExplainer supports trees up to depth {MAX_DEPTH}, not {depth}")
        paths = _Paths.of(leaves, depth, n_features)
        n = len(leaves)
        value = np.array([leaf.value for leaf in leaves], dtype=np.float64)
        table = np.empty((n, 2**depth, depth), dtype=np.float64)
        for pattern in range(2**depth):
            follows = np.array([(pattern >> s) & 1 for s in range(depth)], dtype=bool)
            table[:, pattern, :] = _leaf_shap(
                value,
                follows,
                paths.step_slot,
                paths.slot_zero,
                paths.slot_feature == n_features,
                paths.weights,
            )
        return cls(
            n_features=n_features,
            bias=bias,
            step_feature=paths.step_feature,
            step_threshold=paths.step_threshold,
            step_left=paths.step_left,
            step_default_left=paths.step_default_left,
            slot_feature=paths.slot_feature,
            table=table.reshape(n * 2**depth, depth),
            leaf_offset=np.arange(n) * 2**depth,
            step_bit=1 << np.arange(depth),
        )

    def split_points(self) -> dict[int, np.ndarray]:
        """Per feature that some split tests, its split values, sorted (float32, as xgboost compares)."""
        real = np.isfinite(self.step_threshold)  # padding steps hold +inf
        features = self.step_feature[real]
        thresholds = self.step_threshold[real]
        return {int(f): np.unique(thresholds[features == f]) for f in np.unique(features)}

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """SHAP values of one encoded row (n_features values) and the bias last, laid out like
        xgboost's `pred_contribs`; they add up to the row's margin."""
        return np.asarray(self.contributions_of(np.asarray(row)[None, :])[0], dtype=np.float64)

    def contributions_of(self, rows: np.ndarray) -> np.ndarray:
        """`contributions` of every row of `rows` (k, n_features) at once: (k, n_features + 1)."""
        x = np.asarray(rows, dtype=np.float32)[:, self.step_feature]  # (k, L, D)
        goes_left = x < self.step_threshold
        if np.isnan(x).any():
            goes_left = np.where(np.isnan(x), self.step_default_left, goes_left)
        follows = goes_left == self.step_left
        phi = self.table[self.leaf_offset + follows @ self.step_bit]  # (k, L, K)
        width = self.n_features + 1
        slots = self.slot_feature.ravel()[None, :] + width * np.arange(len(x))[:, None]
        out = np.bincount(slots.ravel(), weights=phi.ravel(), minlength=width * len(x)).reshape(len(x), width)
        out[:, self.n_features] = self.bias
        return out


Step = tuple[
    int, float, bool, bool, float
]  # feature, threshold, goes left, missing goes left, cover fraction


@dataclass(frozen=True)
class Leaf:
    value: float
    path: list[Step]  # the splits from the root
    weight: float  # the share of the training cover that reaches it


def _leaves(tree: dict[str, Any]) -> list[Leaf]:
    """Every leaf of one xgboost JSON tree, with its path (depth first)."""
    if any(tree.get("split_type", ())):
        raise ValueError("TreeExplainer does not support categorical splits")
    left, right = tree["left_children"], tree["right_children"]
    feature, condition = tree["split_indices"], tree["split_conditions"]
    default_left, cover = tree["default_left"], tree["sum_hessian"]
    leaves: list[Leaf] = []
    stack: list[tuple[int, list[Step], float]] = [(0, [], 1.0)]
    while stack:
        node, path, weight = stack.pop()
        if left[node] == -1:  # a leaf: split_conditions holds its value
            leaves.append(Leaf(float(condition[node]), path, weight))
            continue
        for child, goes_left in ((left[node], True), (right[node], False)):
            fraction = cover[child] / cover[node]
            step = (feature[node], condition[node], goes_left, bool(default_left[node]), fraction)
            stack.append((child, [*path, step], weight * fraction))
    return leaves


@dataclass(frozen=True)
class _Paths:
    """The leaves' paths as (L, D) arrays, padded to depth D; slots are a path's distinct features."""

    step_feature: np.ndarray
    step_threshold: np.ndarray
    step_left: np.ndarray
    step_default_left: np.ndarray
    step_slot: np.ndarray
    slot_feature: np.ndarray
    slot_zero: np.ndarray  # product of the cover fractions of a slot's splits
    weights: np.ndarray  # Shapley weights s!(k-s-1)!/k! by subset size s, k the path's slots

    @classmethod
    def of(cls, leaves: list[Leaf], depth: int, n_features: int) -> _Paths:
        n = len(leaves)
        paths = cls(
            step_feature=np.zeros((n, depth), dtype=np.intp),
            step_threshold=np.full((n, depth), np.inf, dtype=np.float32),  # padding: always followed
            step_left=np.ones((n, depth), dtype=bool),
            step_default_left=np.ones((n, depth), dtype=bool),
            step_slot=np.full((n, depth), depth, dtype=np.intp),
            slot_feature=np.full((n, depth), n_features, dtype=np.intp),
            slot_zero=np.ones((n, depth), dtype=np.float64),
            weights=np.zeros((n, depth), dtype=np.float64),
        )
        for i, leaf in enumerate(leaves):
            paths._fill(i, leaf.path)
        return paths

    def _fill(self, i: int, path: list[Step]) -> None:
        slots: list[int] = []
        for s, (f, threshold, goes_left, missing_left, fraction) in enumerate(path):
            if f not in slots:
                slots.append(f)
            slot = slots.index(f)
            self.step_feature[i, s] = f
            self.step_threshold[i, s] = threshold
            self.step_left[i, s] = goes_left
            self.step_default_left[i, s] = missing_left
            self.step_slot[i, s] = slot
            self.slot_feature[i, slot] = f
            self.slot_zero[i, slot] *= fraction
        k = len(slots)
        for s in range(k):
            self.weights[i, s] = math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)


def _leaf_shap(
    value: np.ndarray,
    follows: np.ndarray,
    step_slot: np.ndarray,
    slot_zero: np.ndarray,
    padding: np.ndarray,
    weights: np.ndarray,
) -> np.ndarray:
    """(L, K) SHAP value of each slot of each leaf for a row that follows the path at the steps
    where `follows` (D,) is true."""
    n, depth = step_slot.shape
    one = np.ones((n, depth + 1), dtype=bool)  # the extra column collects padding steps
    leaves = np.arange(n)
    for s in range(depth):
        one[leaves, step_slot[:, s]] &= follows[s]
    o = one[:, :depth].astype(np.float64)
    z = slot_zero
    o[padding] = 0.0  # a padding slot is the factor (z + o t) = 1: not a player
    # poly[l, i, s] = e_s over the slots other than i: expand Π_j (z_j + o_j t) factor by factor.
    poly = np.zeros((n, depth, depth), dtype=np.float64)
    poly[:, :, 0] = 1.0
    for i in range(depth):
        for j in range(depth):
            if j == i:
                continue
            shifted = np.zeros((n, depth))
            shifted[:, 1:] = poly[:, i, :-1]
            poly[:, i, :] = poly[:, i, :] * z[:, j, None] + shifted * o[:, j, None]
    phi = value[:, None] * (o - z) * (poly * weights[:, None, :]).sum(axis=2)
    phi[padding] = 0.0
    return np.asarray(phi, dtype=np.float64)
