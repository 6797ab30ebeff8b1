"""ml.core.blend: several xgboost models as one booster whose log-odds are their weighted mean."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from ml.core.blend import base_margin, blend_boosters, blend_documents, merge_identical_trees
from ml.core.treeshap import TreeExplainer


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((600, 5)).astype(np.float32)
    x[::11, 2] = np.nan  # missing values follow each tree's default branch
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.3, 600) > 0.8).astype(int)
    return x, y


def fit(x: np.ndarray, y: np.ndarray, depth: int, eta: float, rounds: int, **extra: object) -> xgb.Booster:
    params = {
        "objective": "binary:logistic",
        "max_depth": depth,
        "eta": eta,
        "seed": 1,
        "nthread": 1,
        **extra,
    }
    return xgb.train(params, xgb.DMatrix(x, label=y), rounds)


@pytest.fixture(scope="module")
def members(data: tuple[np.ndarray, np.ndarray]) -> list[xgb.Booster]:
    x, y = data
    return [fit(x, y, 2, 0.1, 40), fit(x, y, 3, 0.05, 60, subsample=0.8), fit(x, y, 1, 0.3, 20)]


def margins(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    return booster.inplace_predict(x, predict_type="margin")


def test_blend_log_odds_are_the_weighted_mean(data: tuple[np.ndarray, np.ndarray], members: list) -> None:
    x, _ = data
    weights = [0.5, 0.3, 0.2]
    blended = blend_boosters(members, weights)
    expected = sum(w * margins(b, x) for w, b in zip(weights, members, strict=True))
    np.testing.assert_allclose(margins(blended, x), expected, atol=2e-6)
    assert blended.num_boosted_rounds() <= 40 + 60 + 20  # same-shape trees merged (see below)


def test_weights_are_normalised(data: tuple[np.ndarray, np.ndarray], members: list) -> None:
    x, _ = data
    np.testing.assert_allclose(
        margins(blend_boosters(members[:2], [3, 1]), x),
        margins(blend_boosters(members[:2], [0.75, 0.25]), x),
        atol=1e-6,
    )


def test_shap_of_a_blend_matches_xgboost(data: tuple[np.ndarray, np.ndarray], members: list) -> None:
    """The blend is an ordinary model: xgboost's own TreeSHAP and ours agree on it, and the
    contributions add up to its margin."""
    x, _ = data
    blended = blend_boosters(members, [0.6, 0.3, 0.1])
    expected = blended.predict(xgb.DMatrix(x[:50]), pred_contribs=True)
    np.testing.assert_allclose(expected.sum(axis=1), margins(blended, x[:50]), atol=1e-5)
    explainer = TreeExplainer.from_booster(blended)
    ours = np.array([explainer.contributions(row) for row in x[:50]])
    np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)


def test_a_blend_survives_a_save_and_load(
    data: tuple[np.ndarray, np.ndarray], members: list, tmp_path: Path
) -> None:
    x, _ = data
    blended = blend_boosters(members, [0.7, 0.2, 0.1])
    blended.save_model(str(tmp_path / "blend.ubj"))
    loaded = xgb.Booster()
    loaded.load_model(str(tmp_path / "blend.ubj"))
    np.testing.assert_array_equal(margins(loaded, x), margins(blended, x))


def test_one_member_predicts_as_that_member(data: tuple[np.ndarray, np.ndarray], members: list) -> None:
    x, _ = data
    alone = blend_boosters(members[:1], [1.0])
    assert alone is not members[0]  # a new booster: setting its threads does not touch the member
    np.testing.assert_allclose(margins(alone, x), margins(members[0], x), atol=1e-6)


def test_trees_of_the_same_shape_become_one(data: tuple[np.ndarray, np.ndarray]) -> None:
    """Depth-1 trees on two columns with a few distinct cuts repeat: they merge, leaf values
    added, and every row still gets the same margin."""
    x, y = data
    coarse = np.round(x[:, :2] * 4) / 4  # a handful of thresholds per column
    booster = fit(coarse, y, 1, 0.3, 60)
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    merged = merge_identical_trees(trees)
    shapes = {(t["split_indices"][0], t["split_conditions"][0], t["default_left"][0]) for t in trees}
    assert len(merged) == len(shapes) < len(trees)
    assert [t["id"] for t in merged] == list(range(len(merged)))
    leaf_total = sum(sum(t["split_conditions"][1:]) for t in trees)
    assert sum(sum(t["split_conditions"][1:]) for t in merged) == pytest.approx(leaf_total)
    compact = blend_boosters([booster], [1.0])
    assert compact.num_boosted_rounds() == len(shapes)
    np.testing.assert_allclose(margins(compact, coarse), margins(booster, coarse), atol=1e-5)
    # SHAP of the merged trees weighs paths by the pooled covers, and still adds up to the margin
    contribs = compact.predict(xgb.DMatrix(coarse[:20]), pred_contribs=True)
    np.testing.assert_allclose(contribs.sum(axis=1), margins(booster, coarse[:20]), atol=1e-5)


def test_base_margin_reads_xgboosts_base_score(members: list) -> None:
    learner = json.loads(members[0].save_raw("json"))["learner"]
    p = float(learner["learner_model_param"]["base_score"].strip("[]"))
    assert base_margin(learner) == pytest.approx(np.log(p / (1 - p)))


@pytest.mark.parametrize(
    ("weights", "message"),
    [([], "one weight per booster"), ([0.5, 0.5], "one weight per booster"), ([1.0, 0.0, 1.0], "positive")],
)
def test_bad_weights_are_refused(members: list, weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        blend_boosters(members, weights)


def test_models_of_other_kinds_are_refused(data: tuple[np.ndarray, np.ndarray], members: list) -> None:
    x, y = data
    with pytest.raises(ValueError, match="binary:logistic"):
        blend_boosters([members[0], fit(x, y.astype(float), 2, 0.1, 5, objective="reg:squarederror")], [1, 1])
    with pytest.raises(ValueError, match="number of features"):
        blend_boosters([members[0], fit(x[:, :3], y, 2, 0.1, 5)], [1, 1])
    with pytest.raises(ValueError, match="one tree per round"):
        blend_boosters([members[0], fit(x, y, 2, 0.1, 5, num_parallel_tree=2)], [1, 1])


def test_a_document_in_an_older_xgboosts_layout_keeps_it(members: list) -> None:
    """Snowflake's warehouse may run an older xgboost: base_score without brackets (before 3.0) and
    no iteration_indptr (before 2.0) stay that way in the blend."""

    def older(booster: xgb.Booster) -> dict:
        document = json.loads(booster.save_raw("json"))
        learner = document["learner"]
        learner["learner_model_param"]["base_score"] = learner["learner_model_param"]["base_score"].strip(
            "[]"
        )
        del learner["gradient_booster"]["model"]["iteration_indptr"]
        return document

    blended = blend_documents([older(members[0]), older(members[1])], [0.5, 0.5])
    learner = blended["learner"]
    assert not learner["learner_model_param"]["base_score"].startswith("[")
    assert "iteration_indptr" not in learner["gradient_booster"]["model"]
    expected = 0.5 * base_margin(older(members[0])["learner"]) + 0.5 * base_margin(
        older(members[1])["learner"]
    )
    assert base_margin(learner) == pytest.approx(expected, abs=1e-6)
