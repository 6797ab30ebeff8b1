"""The 12-number table: survival by sex × class × child (under 13), Laplace-smoothed.

It is the baseline every recipe has to beat, and the first tree of the recipe's booster: the model
starts from the table's log-odds and a few shallow trees correct it where the records say so. As a
tree (splits on is_female, pclass and age) it keeps the model one ordinary xgboost booster, so
TreeSHAP, the registry and the Snowflake model need nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ml.core.passenger import CHILD_AGE

CELLS = 12  # 2 sexes × 3 classes × child or not
ALPHA = 1.0  # Laplace: (survivors + 1) / (passengers + 2)
# xgboost's "no parent" marker in a tree's `parents` list.
_NO_PARENT = 2147483647


def cells(is_female: np.ndarray, pclass: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Cell 0..11 = 6 · is_female + 2 · (class - 1) + child, for completed (imputed) values."""
    return np.asarray(
        6 * is_female.astype(np.int64)
        + 2 * (pclass.astype(np.int64) - 1)
        + (age < CHILD_AGE).astype(np.int64),
        dtype=np.int64,
    )


def matrix_cells(matrix: np.ndarray, feature_names: Sequence[str]) -> np.ndarray:
    """`cells` of the rows of an encoded matrix (columns is_female, pclass and age)."""
    column = {name: matrix[:, feature_names.index(name)] for name in ("is_female", "pclass", "age")}
    return cells(column["is_female"], column["pclass"], column["age"])


@dataclass(frozen=True)
class Table:
    """Per cell: passengers, survivors, and the smoothed survival log-odds."""

    passengers: np.ndarray
    survivors: np.ndarray

    @classmethod
    def fit(cls, cell: np.ndarray, y: np.ndarray) -> Table:
        return cls(
            passengers=np.bincount(cell, minlength=CELLS).astype(np.float64),
            survivors=np.bincount(cell, weights=np.asarray(y, dtype=np.float64), minlength=CELLS),
        )

    @property
    def probability(self) -> np.ndarray:
        return np.asarray((self.survivors + ALPHA) / (self.passengers + 2 * ALPHA), dtype=np.float64)

    @property
    def log_odds(self) -> np.ndarray:
        p = self.probability
        return np.asarray(np.log(p / (1 - p)), dtype=np.float64)


def table_tree(table: Table, feature_names: Sequence[str]) -> dict[str, Any]:
    """The table as one xgboost JSON tree: is_female < 0.5, then pclass < 1.5 / < 2.5, then age < 13.

    A row goes left when its value is below the threshold. The covers are the cells' passenger
    counts, so path-dependent TreeSHAP weighs the cells as the training rows did (an empty cell
    keeps a tiny positive cover: xgboost divides by covers).
    """
    builder = _TreeBuilder(table)
    index = {name: feature_names.index(name) for name in ("is_female", "pclass", "age")}

    def by_age(first: int) -> Callable[[], int]:
        return lambda: builder.split(index["age"], CHILD_AGE, builder.leaf(first + 1), builder.leaf(first))

    def by_class(sex: int) -> Callable[[], int]:
        first = 6 * sex
        return lambda: builder.split(
            index["pclass"],
            1.5,
            by_age(first),
            lambda: builder.split(index["pclass"], 2.5, by_age(first + 2), by_age(first + 4)),
        )

    builder.split(index["is_female"], 0.5, by_class(0), by_class(1))
    return builder.tree(len(feature_names))


class _TreeBuilder:
    """Nodes built depth first, written out breadth first (the order xgboost's JSON uses)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.nodes: list[dict[str, Any]] = []

    def _add(self, **node: Any) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def leaf(self, cell: int) -> Callable[[], int]:
        value, cover = float(self.table.log_odds[cell]), float(self.table.passengers[cell]) + 1e-3
        return lambda: self._add(leaf=value, cover=cover)

    def split(self, feature: int, threshold: float, left: Callable[[], int], right: Callable[[], int]) -> int:
        me = self._add(feature=feature, threshold=threshold)
        low, high = left(), right()
        cover = self.nodes[low]["cover"] + self.nodes[high]["cover"]
        self.nodes[me].update(left=low, right=high, cover=cover)
        return me

    def tree(self, n_features: int) -> dict[str, Any]:
        order: list[int] = []
        queue = [0]
        while queue:
            index = queue.pop(0)
            order.append(index)
            if "leaf" not in self.nodes[index]:
                queue += [self.nodes[index]["left"], self.nodes[index]["right"]]
        position = {old: new for new, old in enumerate(order)}
        nodes = [self.nodes[old] for old in order]
        parents = [_NO_PARENT] * len(nodes)
        for i, node in enumerate(nodes):
            if "leaf" not in node:
                parents[position[node["left"]]] = parents[position[node["right"]]] = i
        internal = ["leaf" not in node for node in nodes]
        return {
            "base_weights": [node.get("leaf", 0.0) for node in nodes],
            "categories": [],
            "categories_nodes": [],
            "categories_segments": [],
            "categories_sizes": [],
            "default_left": [0] * len(nodes),
            "id": 0,
            "left_children": [
                position[n["left"]] if inner else -1 for n, inner in zip(nodes, internal, strict=True)
            ],
            "right_children": [
                position[n["right"]] if inner else -1 for n, inner in zip(nodes, internal, strict=True)
            ],
            "loss_changes": [0.0] * len(nodes),
            "parents": parents,
            "split_conditions": [
                n["threshold"] if inner else n["leaf"] for n, inner in zip(nodes, internal, strict=True)
            ],
            "split_indices": [n["feature"] if inner else 0 for n, inner in zip(nodes, internal, strict=True)],
            "split_type": [0] * len(nodes),
            "sum_hessian": [n["cover"] for n in nodes],
            "tree_param": {
                "num_deleted": "0",
                "num_feature": str(n_features),
                "num_nodes": str(len(nodes)),
                "size_leaf_vector": "1",
            },
        }
