"""Batch scoring: `lifeboat score`'s engine (ml.io.batch) against pandas reading and writing the
same CSV, and its peak memory on 1M and 10M rows.

Inputs, written once under bench/out/ (git-ignored) and reused:
- passengers_1m.csv: 1,000,000 passengers resampled from the shipped 891, in the real
  passenger-list layout (name, ticket, cabin, ...) with a passenger_id;
- varied_1m.csv: the same layout with every name, ticket, age and fare made distinct, as no two
  people on a real list are alike (so sharing work between equal rows hardly helps);
- passengers_10m.csv: as the first, 10,000,000 rows (715 MB), for memory.

Every measurement runs in a fresh child process, so peak RSS (`os.wait4`'s ru_maxrss) is the
call's own; the figure is the call alone (imports and model loading excluded, shown as "idle").
Runs of the contenders alternate, so a busy moment on the machine hits them alike; medians and
min-max spreads are printed. Run alone: `python -m bench.batch_bench`.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import report, row
from ml.io.data import shipped_data_path

OUT = Path(__file__).resolve().parent / "out"
RUNS = 3
RATIO_TARGET = 1.0
FLAT_FACTOR = 1.25  # 10M rows may peak at most this much above 1M rows
CHUNK = 1_000_000


def make_passengers_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """`rows` passengers resampled from the shipped data, a passenger_id first, no outcome (a
    million rows at a time, so 10M need no 10M-row DataFrame)."""
    shipped = pd.read_csv(shipped_data_path()).drop(columns=["survived"])
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as handle:
        for start in range(0, rows, CHUNK):
            n = min(CHUNK, rows - start)
            frame = shipped.iloc[rng.integers(0, len(shipped), n)].reset_index(drop=True)
            frame.insert(0, "passenger_id", np.arange(start + 1, start + n + 1))
            frame.to_csv(handle, index=False, header=start == 0)
    return path


def make_varied_csv(path: Path, rows: int, seed: int = 11) -> Path:
    """The same layout with every row distinct: names and tickets numbered, ages and fares jittered."""
    shipped = pd.read_csv(shipped_data_path()).drop(columns=["survived"])
    rng = np.random.default_rng(seed)
    frame = shipped.iloc[rng.integers(0, len(shipped), rows)].reset_index(drop=True)
    ids = pd.Series(np.arange(1, rows + 1)).astype(str)
    frame.insert(0, "passenger_id", ids)
    surname, rest = frame["name"].str.split(",", n=1).str[0], frame["name"].str.split(",", n=1).str[1]
    frame["name"] = surname + "-" + ids + "," + rest
    frame["ticket"] = frame["ticket"].astype(str) + "/" + ids
    age = frame["age"].to_numpy()
    frame["age"] = np.where(
        np.isnan(age), np.nan, np.clip(np.round(age + rng.normal(0, 3, rows), 1), 0.4, 80)
    )
    frame["fare"] = np.round(frame["fare"].to_numpy() * rng.uniform(0.8, 1.2, rows), 4)
    frame.to_csv(path, index=False)
    return path


def ensure_input(name: str, rows: int, maker: Any) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / name
    done = path.with_suffix(".done")  # written last: a half-written input is made again
    if not (path.exists() and done.exists()):
        started = time.perf_counter()
        maker(path, rows)
        done.write_text(str(rows))
        print(f"wrote {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s")
    return path


# -- the child: one call, timed ------------------------------------------------------------------
def child(task: str, source: str, target: str, home: str) -> None:
    from ml.io.batch import score_file
    from ml.io.local_registry import LocalRegistry
    from ml.io.serving import Scorer

    model = Scorer(LocalRegistry(Path(home))).current().model
    model.path_groups  # noqa: B018  (built once per model, like loading it: not the file's work)
    started, cpu = time.perf_counter(), time.process_time()
    if task == "pandas":
        pd.read_csv(source, low_memory=False).to_csv(target, index=False)
    elif task == "score":
        score_file(model, source, target)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (ru_maxrss keeps
    the high-water mark of the parent the child was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(task: str, source: Path, target: Path, home: Path) -> dict[str, float]:
    command = [
        sys.executable,
        "-m",
        "bench.batch_bench",
        "--child",
        task,
        str(source),
        str(target),
        str(home),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"{task} {source.name} failed: {done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if target.exists():
        result["out_mb"] = target.stat().st_size / 1e6
        target.unlink()
    return result


def spread(values: list[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f} s over {len(values)}"


def compare(label: str, source: Path, home: Path, workdir: Path) -> list[dict[str, Any]]:
    """pandas read_csv + to_csv against score CSV -> CSV and CSV -> Parquet, alternating."""
    runs: dict[str, list[dict[str, float]]] = {"pandas": [], "csv": [], "parquet": []}
    for _ in range(RUNS):
        runs["pandas"].append(run_child("pandas", source, workdir / "copy.csv", home))
        runs["csv"].append(run_child("score", source, workdir / "scored.csv", home))
        runs["parquet"].append(run_child("score", source, workdir / "scored.parquet", home))
    median = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
    cpu = {k: statistics.median(r["cpu"] for r in v) for k, v in runs.items()}
    rss = {k: max(r["rss_mb"] for r in v) for k, v in runs.items()}
    ratio = median["csv"] / median["pandas"]
    mb = source.stat().st_size / 1e6
    return [
        row(
            f"{label}: pandas read_csv + to_csv",
            round(median["pandas"], 2),
            "s",
            "",
            True,
            f"{mb:.0f} MB; median, {spread([r['seconds'] for r in runs['pandas']])}; cpu {cpu['pandas']:.2f} s; peak RSS {rss['pandas']:.0f} MB",
        ),
        row(
            f"{label}: score CSV -> CSV",
            round(median["csv"], 2),
            "s",
            "",
            True,
            f"median, {spread([r['seconds'] for r in runs['csv']])}; cpu {cpu['csv']:.2f} s; peak RSS {rss['csv']:.0f} MB",
        ),
        row(
            f"{label}: score CSV -> CSV / pandas round trip",
            round(ratio, 2),
            "×",
            f"≤ {RATIO_TARGET:g}×",
            ratio <= RATIO_TARGET,
            f"cpu time ratio {cpu['csv'] / cpu['pandas']:.2f}",
        ),
        row(
            f"{label}: score CSV -> Parquet",
            round(median["parquet"], 2),
            "s",
            "",
            True,
            f"{median['parquet'] / median['pandas']:.2f}× pandas' CSV round trip; median, "
            f"{spread([r['seconds'] for r in runs['parquet']])}; peak RSS {rss['parquet']:.0f} MB; "
            f"{runs['parquet'][0].get('out_mb', 0):.0f} MB out",
        ),
    ]


def memory(home: Path, workdir: Path, one_million: Path) -> list[dict[str, Any]]:
    """Peak RSS scoring 1M and 10M rows CSV -> CSV (flat: not growing with the file)."""
    ten_million = ensure_input("passengers_10m.csv", 10 * CHUNK, make_passengers_csv)
    idle = run_child("idle", one_million, workdir / "none.csv", home)["rss_mb"]
    small = run_child("score", one_million, workdir / "scored.csv", home)
    large = run_child("score", ten_million, workdir / "scored.csv", home)
    flat = large["rss_mb"] <= FLAT_FACTOR * small["rss_mb"]
    return [
        row("peak RSS, score 1M rows", round(small["rss_mb"]), "MB", "", True, f"idle child {idle:.0f} MB"),
        row(
            "peak RSS, score 10M rows",
            round(large["rss_mb"]),
            "MB",
            f"≤ {FLAT_FACTOR:g}× 1M's",
            flat,
            f"{large['seconds']:.1f} s, {10 * CHUNK / large['seconds']:,.0f} rows/s; idle child {idle:.0f} MB",
        ),
    ]


def run() -> list[dict[str, Any]]:
    from ml.core.training import TrainConfig
    from ml.io.local_registry import LocalRegistry
    from ml.jobs.train import train_and_register

    workdir = Path(tempfile.mkdtemp(prefix="lifeboat-batch-bench-", dir=OUT if OUT.is_dir() else None))
    try:
        home = workdir / "home"
        registry = LocalRegistry(home)
        train_and_register(registry, actor="bench", comment="bench", config=TrainConfig())
        registry.close()
        passengers = ensure_input("passengers_1m.csv", CHUNK, make_passengers_csv)
        varied = ensure_input("varied_1m.csv", CHUNK, make_varied_csv)
        return [
            *compare("1M passengers", passengers, home, workdir),
            *compare("1M distinct passengers", varied, home, workdir),
            *memory(home, workdir, passengers),
        ]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> list[dict[str, Any]]:
    return report(run())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:6])
    else:
        main()
