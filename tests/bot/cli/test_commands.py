"""`lifeboat` end to end: in-process through `bot.cli.main` (stdout/stderr captured), plus real
subprocesses for exit codes and tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.cli import main
from ml.core.passenger import Passenger, title_from_name
from ml.core.training import TrainConfig
from ml.io.data import shipped_data_path
from ml.io.local_registry import LocalRegistry
from ml.io.serving import Scorer
from ml.jobs import train as jobs
from tests.support.models import FAST_CONFIG


@pytest.fixture
def quick_training(monkeypatch: pytest.MonkeyPatch) -> None:
    real_train = jobs.train

    def train(frame: Any, config: TrainConfig | None = None, progress: Any = None) -> Any:
        return real_train(frame, FAST_CONFIG, progress)

    monkeypatch.setattr(jobs, "train", train)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert err.startswith("lifeboat: error: ")
    return err.removeprefix("lifeboat: error: ").strip()


def probability(registry: LocalRegistry, **fields: Any) -> float:
    return Scorer(registry).predict(Passenger.create(**fields)).probability


# ---------------------------------------------------------------------------------------------
# Registry commands


def test_train_json_registers_the_first_version(
    empty_home: Path, quick_training: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "train", "--json")
    assert code == 0
    version = json.loads(out)
    assert version["model_name"] == "TITANIC"
    assert version["version"] == "V1" and version["is_default"] is True
    assert {"holdout_accuracy", "holdout_roc_auc", "holdout_brier", "cv_log_loss"} <= set(version["metrics"])
    assert version["seconds"] > 0
    assert "…" not in err  # progress is drawn on a terminal only (tests/bot/test_progress.py)
    registry = LocalRegistry(empty_home)
    assert registry.get_default() == "V1"
    # The version records what the inner cross-validation chose, and the table beside its figures.
    recorded = registry.get_version("V1")
    registry.close()
    choice = recorded.info["inner_choice"]
    assert (
        recorded.params["num_round"] == choice["rounds"]
        and recorded.params["max_depth"] == choice["max_depth"]
    )
    assert min(g["log_loss"] for g in choice["grid"]) == choice["inner_log_loss"]
    assert recorded.metrics["cv_log_loss"] < recorded.metrics["cv_table_log_loss"]
    assert {"holdout_table_log_loss", "holdout_sex_table_log_loss"} <= set(recorded.metrics)


def test_train_text_shows_the_table_beside_the_model(
    empty_home: Path, quick_training: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "train")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("Registered TITANIC V1 (default) in ")
    assert (
        lines[1].startswith("  model: XGBoost boosted from the 12-number table")
        and "all 891 rows" in lines[1]
    )
    assert lines[2] == "  nested 1x2-fold (inner 3-fold) on 891:"
    assert lines[3].split()[0] == "model" and "log_loss=" in lines[3] and "ece=" in lines[3]
    assert lines[4].startswith("    12-number table  accuracy=")
    assert lines[5] == "  frozen holdout (182 rows; a twin fitted without them):"
    assert lines[7].startswith("    12-number table  accuracy=")


def test_models_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models", "--json")
    assert code == 0
    listing = json.loads(out)
    assert set(listing) == {"default", "versions"}
    assert listing["default"] == "V1"
    [v1] = listing["versions"]
    assert v1["version"] == "V1" and v1["is_default"] is True
    assert 0.5 < v1["metrics"]["holdout_accuracy"] <= 1.0
    assert v1["comment"] == "fixture model"


def test_models_text_and_empty(empty_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "models")
    assert code == 0 and "TITANIC has no versions yet. Run `lifeboat train`." in out
    code, out, _ = run(capsys, "models", "--json")
    assert json.loads(out) == {"default": None, "versions": []}


def test_promote(home: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    registry.log_model(
        registry.load_model("V1"),
        metrics={},
        params={},
        comment="same booster, second version",
        created_by="tests",
        data_fingerprint="x",
    )
    code, out, _ = run(capsys, "promote", "v2")
    assert (code, out) == (0, "TITANIC default: V1 → V2\n")
    assert json.loads(run(capsys, "models", "--json")[1])["default"] == "V2"


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("V9", "TITANIC has no version V9"),
        ("banana", "“banana” is not a version name (expected V1, V2, ...)"),
    ],
)
def test_promote_unknown_is_one_line_and_exit_1(
    home: Path, capsys: pytest.CaptureFixture[str], version: str, message: str
) -> None:
    code, out, err = run(capsys, "promote", version)
    assert code == 1 and out == ""
    assert one_line_error(err) == message


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["no-such-command"])
    assert exit_.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# predict


def test_predict_text_json(home: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", "3rd class man, 30", "--json")
    assert code == 0
    answer = json.loads(out)
    expected = probability(registry, pclass=3, sex="male", age=30)
    assert answer["probability"] == pytest.approx(expected, abs=1e-6)
    assert answer["percent"] == round(expected * 100)
    assert answer["version"] == "V1"
    assert answer["passenger"]["pclass"] == 3 and answer["passenger"]["sex"] == "male"
    assert answer["passenger"]["age"] == 30.0
    assert {r["attribute"] for r in answer["reasons"]} >= {"pclass", "sex", "age"}
    assert any("fare" in a for a in answer["assumptions"])
    # The range and the evidence, as the answer in Slack shows them.
    likely = answer["likely"]
    assert likely["low"] < answer["probability"] < likely["high"]
    assert likely["text"] == f"{round(likely['low'] * 100)}–{round(likely['high'] * 100)}%"
    evidence = answer["evidence"]
    assert evidence["group"] == "3rd class, male, 18–34" and evidence["passengers"] > 100
    assert evidence["sentence"].startswith(
        f"Of the {evidence['passengers']} passengers in the records most like you"
    )
    assert len(evidence["examples"]) == 3 and all(e["age"] == 30 for e in evidence["examples"])


def test_predict_a_boy_issue_10(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ "3rd class boy, 6": 9 of the 25 third-class boys under 13 in the records survived, and the
    answer says so beside a wide range. "3rd class boy, alone" is a child, not a 29-year-old Mr."""
    code, out, _ = run(capsys, "predict", "3rd class boy, 6")
    assert code == 0
    lines = out.splitlines()
    assert " (likely " in lines[0] and "%) — You would" in lines[0]
    assert any(
        line.startswith("  Few like you: only 29 in the records (3rd class, male, under 13)")
        for line in lines
    )
    assert (
        "  People like you: Of the 25 passengers in the records most like you (3rd class, male, under 13), 9 survived."
        in out
    )
    alone = json.loads(run(capsys, "predict", "3rd class boy, alone", "--json")[1])
    assert alone["passenger"]["title"] == "Master" and alone["passenger"]["age"] < 13
    assert "age 4 (typical for a child)" in alone["assumptions"]
    assert alone["likely"]["like_you"] == 1 and alone["likely"]["few_like_you"]
    assert alone["likely"]["high"] - alone["likely"]["low"] > 0.5  # one like him in the records
    assert alone["evidence"]["narrower"] == {"group": "3rd class, male, under 13, alone", "passengers": 1}
    flags = json.loads(run(capsys, "predict", "--class", "3", "--sex", "male", "--child", "--json")[1])
    assert flags["passenger"]["title"] == "Master" and flags["evidence"]["passengers"] == 25


def test_predict_with_flags_matches_the_same_passenger_in_words(
    home: Path, registry: LocalRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "predict", "--class", "1", "--sex", "female", "--age", "29", "--sibsp", "1")
    assert code == 0
    expected = probability(registry, pclass=1, sex="female", age=29, sibsp=1)
    lines = out.splitlines()
    assert lines[0].startswith(f"{round(expected * 100)}% (likely ") and "%) — You would" in lines[0]
    assert "Why:" in out and "Model: TITANIC V1" in out and "  People like you: Of the " in out
    words = run(capsys, "predict", "1st class woman, 29, travelling with my husband", "--json")[1]
    assert json.loads(words)["probability"] == pytest.approx(expected, abs=1e-6)
    # Flags complete or override the text.
    mixed = json.loads(run(capsys, "predict", "3rd class man", "--age", "40", "--port", "Q", "--json")[1])
    assert mixed["passenger"]["age"] == 40.0 and mixed["passenger"]["embarked"] == "Q"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["1st class man age 150"], "Age must be between 0 and 100 (got 150)."),
        (["1st class man, a woman"], "You said both “man” and “woman”."),
        (["age 30"], "Please give the class."),
        (["--class", "4", "--sex", "female"], "Class must be 1st, 2nd or 3rd."),
    ],
)
def test_predict_refuses_bad_input_in_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, "predict", *argv)
    assert code == 1 and out == ""
    assert message in one_line_error(err)


def test_predict_on_an_empty_home_trains_the_first_version_and_says_so(
    empty_home: Path, quick_training: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "predict", "2nd class woman, 40")
    assert code == 0
    assert "No model is registered yet: training the first version" in err
    assert "Registered TITANIC V1 (now the default)." in err
    assert "%) — You would" in out and "Model: TITANIC V1" in out
    code, out, err = run(capsys, "predict", "2nd class woman, 40")  # the second time, no training
    assert code == 0 and err == ""


# ---------------------------------------------------------------------------------------------
# score


def test_score_csv_keeps_every_column_and_matches_single_predictions(
    home: Path, registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    target = tmp_path / "out.csv"
    rows = pd.DataFrame(
        {
            "passenger_id": [101, 102, 103, 104],
            "note": ["a", "b", "c", "d"],
            "Name": ["Smith, Mrs. Jane", "Jones, Mr. Tom", "Brown, Master. Tim", "Grey, Miss. Ann"],
            "Pclass": [1, 3, 2, 3],
            "Sex": ["female", "male", "male", "female"],
            "Age": [29, 30, 4, None],
            "SibSp": [1, 0, 1, 0],
            "Parch": [0, 0, 2, 0],
            "Fare": [84.15, 8.05, None, 7.75],
            "Embarked": ["S", "S", "C", "Q"],
            "survived": [1, 0, 1, 1],  # ignored: scoring never reads the outcome
        }
    )
    rows.to_csv(source, index=False)
    code, out, _ = run(capsys, "score", str(source), "-o", str(target))
    assert code == 0
    assert out == f"Scored 4 passengers with TITANIC V1 → {target}\n"

    scored = pd.read_csv(target)
    assert list(scored.columns) == [*rows.columns, "survival_probability"]
    pd.testing.assert_frame_equal(scored[rows.columns], pd.read_csv(source))
    for record, p in zip(rows.to_dict("records"), scored["survival_probability"], strict=True):
        single = probability(
            registry,
            pclass=record["Pclass"],
            sex=record["Sex"],
            age=record["Age"],
            sibsp=record["SibSp"],
            parch=record["Parch"],
            fare=record["Fare"],
            embarked=record["Embarked"],
            title=title_from_name(record["Name"]),
        )
        assert p == pytest.approx(single, abs=1e-6)

    flipped = rows.assign(survived=[0, 1, 0, 0])
    flipped.to_csv(source, index=False)
    assert run(capsys, "score", str(source), "-o", str(target))[0] == 0
    assert list(pd.read_csv(target)["survival_probability"]) == list(scored["survival_probability"])


@pytest.mark.parametrize("with_outcome", [True, False])
def test_score_a_file_laid_out_like_the_shipped_one(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], with_outcome: bool
) -> None:
    """How the owners score their held-back passengers: the shipped file's columns, `survived` or not."""
    rows = pd.read_csv(shipped_data_path()).iloc[::7]
    if not with_outcome:
        rows = rows.drop(columns=["survived"])
    rows.to_csv(tmp_path / "theirs.csv", index=False)
    code, out, _ = run(capsys, "score", str(tmp_path / "theirs.csv"), "-o", str(tmp_path / "out.csv"))
    assert code == 0 and out.startswith(f"Scored {len(rows)} passengers with TITANIC V1")
    scored = pd.read_csv(tmp_path / "out.csv")
    assert list(scored.columns) == [*rows.columns, "survival_probability"]
    assert scored["survival_probability"].between(0, 1).all()


def test_score_errors_are_one_line(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "score", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "out.csv"))
    assert code == 1 and "no such file" in one_line_error(err)
    code, _, err = run(capsys, "score", str(tmp_path / "in.csv"))
    assert code == 1 and "usage: lifeboat score IN.csv -o OUT.csv" in one_line_error(err)


def leftovers(directory: Path, before: set[str]) -> set[str]:
    return {p.name for p in directory.iterdir()} - before


def test_score_into_a_directory_is_refused_and_leaves_nothing(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("pclass,sex,age\n1,female,29\n")
    (tmp_path / "outdir").mkdir()
    before = {p.name for p in tmp_path.iterdir()}
    code, out, err = run(capsys, "score", str(source), "-o", str(tmp_path / "outdir"))
    assert code == 1 and out == ""
    assert "is a directory" in one_line_error(err)
    assert leftovers(tmp_path, before) == set()
    assert list((tmp_path / "outdir").iterdir()) == []


def test_a_failed_write_leaves_no_partial_file(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "in.csv"
    source.write_text("pclass,sex,age\n1,female,29\n")
    before = {p.name for p in tmp_path.iterdir()}

    def disk_full(self: Path, target: Path) -> Path:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "replace", disk_full)
    code, _, err = run(capsys, "score", str(source), "-o", str(tmp_path / "out.csv"))
    assert code == 1 and "No space left on device" in one_line_error(err)
    assert leftovers(tmp_path, before) == set()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("x" * 5_000_000 + "\n1\n", "missing columns pclass, sex"),  # a 5 MB header line
        ("pclass,sex,age\n1,female,29,x\n3,male,30,y\n", "line 2 has 4 fields, the header has 3"),
        ("pclass,sex,age\n1,female,29\n3,male,30,y\n", "line 3 has 4 fields, the header has 3"),
        ("pclass,sex,age\n", "has a header but no passengers: nothing to score"),
        ("", "cannot read"),
        ('pclass,sex,age\n1,"' + "y" * 5_000_000 + "\n", "cannot read"),
    ],
    ids=["huge-header", "ragged-everywhere", "ragged-row", "header-only", "empty", "unclosed-quote"],
)
def test_score_errors_are_one_short_line_and_write_nothing(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    source = tmp_path / "in.csv"
    source.write_text(content)
    before = {p.name for p in tmp_path.iterdir()}
    code, out, err = run(capsys, "score", str(source), "-o", str(tmp_path / "out.csv"))
    assert code == 1 and out == ""
    message = one_line_error(err)
    assert expected in message
    assert len(err) < 600
    assert leftovers(tmp_path, before) == set()


def test_score_counts_rows_not_problems(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.csv"
    rows = ["pclass,sex,age"] + ["4,female,29"] * 9 + ["5,robot,150"]  # the last row fails three checks
    source.write_text("\n".join(rows) + "\n")
    code, _, err = run(capsys, "score", str(source), "-o", str(tmp_path / "out.csv"))
    message = one_line_error(err)
    assert code == 1 and message.startswith(
        "10 row(s) cannot be scored: row 1: Class must be 1st, 2nd or 3rd;"
    )
    assert "(and 5 more)" in message
    assert not (tmp_path / "out.csv").exists()


# ---------------------------------------------------------------------------------------------
# Real processes: exit codes and tracebacks


def start(*argv: str, home: Path, module: bool = False) -> subprocess.Popen[str]:
    """`lifeboat ARGV` as a real process (the installed script, or `python -m bot.cli`)."""
    script = Path(sys.executable).with_name("lifeboat")
    command = [sys.executable, "-m", "bot.cli"] if module or not script.exists() else [str(script)]
    return subprocess.Popen(
        [*command, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "LIFEBOAT_HOME": str(home)},
        cwd=Path(__file__).resolve().parents[3],
    )


def test_process_exit_codes_and_debug_traceback(home: Path) -> None:
    # Started together: each pays the interpreter + xgboost import once, in parallel.
    ok = start("predict", "3rd class man, 30", "--json", home=home)
    failed = start("promote", "V9", home=home)
    debug = start("--debug", "promote", "V9", home=home, module=True)
    results = {
        name: (p, *p.communicate(timeout=60))
        for name, p in (("ok", ok), ("failed", failed), ("debug", debug))
    }

    process, out, err = results["ok"]
    assert process.returncode == 0, err
    assert json.loads(out)["version"] == "V1"

    process, out, err = results["failed"]
    assert process.returncode == 1
    assert out == ""
    assert err == "lifeboat: error: TITANIC has no version V9\n"

    process, out, err = results["debug"]
    assert process.returncode == 1
    assert "Traceback (most recent call last)" in err
    assert "UnknownVersionError: TITANIC has no version V9" in err


@pytest.mark.parametrize(
    ("env", "args", "missing"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, ["run"], "SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"},
            ["run", "--http"],
            "SLACK_SIGNING_SECRET",
        ),
        ({"SLACK_SIGNING_SECRET": "s"}, ["run"], "SLACK_BOT_TOKEN"),
    ],
)
def test_run_with_incomplete_slack_settings_says_what_is_missing(
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    args: list[str],
    missing: str,
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("lifeboat: error: to connect to Slack, also set") and missing in err


# ---------------------------------------------------------------------------------------------
# Issue 14: charts and the real passengers


def test_models_plot_writes_each_versions_charts(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "models", "--plot", str(tmp_path / "plots"))
    assert code == 0
    written = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert written == ["V1-contributions.png", "V1-reliability.png"]
    assert all((tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG" for name in written)
    assert "V1: wrote" in out


def test_predict_by_name(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", "--name", "astor")
    assert code == 0
    assert out.startswith("Astor, Mrs. John Jacob (Madeleine Talmadge Force): survived.")
    assert "The model learnt from this very record" in out and "% (likely" in out
    code, out, _ = run(capsys, "predict", "--name", "Margaret Brown", "--json")
    answer = json.loads(out)
    assert answer["record"]["name"] == "Brown, Mrs. James Joseph (Margaret Tobin)"
    assert answer["record"]["learnt_from_this_record"] is True and 0 < answer["record"]["cv_probability"] < 1
    code, _, err = run(capsys, "predict", "--name", "Brwn")
    assert (
        code == 1 and one_line_error(err) == "no passenger called “Brwn” in the records; did you mean Brown?"
    )
    code, _, err = run(capsys, "predict", "--name", "Brown")
    assert code == 1 and one_line_error(err).startswith(
        "5 passengers match “Brown”: Brown, Mrs. James Joseph"
    )  # and Mrs Goldsmith, née Brown
    code, _, err = run(capsys, "predict", "--name", "Astor", "1st", "class")
    assert code == 1 and "give no description with it" in one_line_error(err)


def test_run_when_slack_cannot_be_reached_says_where_and_what_to_check(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-never-printed")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "never-printed-either")
    monkeypatch.setenv("SLACK_API_URL", f"http://127.0.0.1:{port}/api/")
    assert main(["run", "--http", "--port", "0"]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"lifeboat: error: could not reach Slack at http://127.0.0.1:{port}/api/")
    assert "auth.test" in last and "refused" in last.lower()
    assert "never-printed" not in err


def test_train_on_a_file_with_impossible_rows_says_which_and_registers_nothing(
    home: Path, registry: LocalRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(shipped_data_path())
    frame.loc[frame.index[:3], "pclass"] = 7  # e.g. a file where 7 meant "unknown"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    before = [v.version for v in registry.list_versions()]
    code, _, err = run(capsys, "train", "--data", str(path))
    assert code == 1
    assert one_line_error(err).startswith("3 row(s) cannot be used for training: row 1: Class must be")
    assert [v.version for v in registry.list_versions()] == before


def test_run_with_a_token_slack_refuses_says_which_setting_to_fix(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.local import FakeSlackWebAPI

    with FakeSlackWebAPI(token="xoxb-the-right-one") as fake:
        monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
        monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-a-revoked-one")
        monkeypatch.setenv("SLACK_SIGNING_SECRET", "never-printed")
        monkeypatch.setenv("SLACK_API_URL", fake.base_url)
        assert main(["run", "--http", "--port", "0"]) == 1
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(
        "lifeboat: error: Slack refused the bot token (invalid_auth): check SLACK_BOT_TOKEN"
    )
    assert "xoxb-a-revoked-one" not in err and "never-printed" not in err
