"""ML core benchmarks: single-passenger latency (probability, likely range, reasons and people like
you) and local training (batch scoring: batch_bench).

Run alone with `python -m bench.ml_bench` or with every other bench module via `python -m bench`.
`main()` returns one dict per measurement (name, value, unit, target, ok, detail) and prints them.

Figures depend on the machine and on what else it is running: read them as orders of magnitude
and compare runs made on the same machine. Each detail also gives CPU time, which a busy machine
disturbs much less than wall-clock time.
"""

from __future__ import annotations

import gc
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import report, row
from ml.core.passenger import Passenger
from ml.core.training import TrainConfig
from ml.io.local_registry import LocalRegistry
from ml.io.serving import Scorer
from ml.jobs.train import train_and_register

SINGLE_CALLS = 5_000
# An answer is two booster calls since issue 10: the point (~150 trees) and the 50 bootstrap members
# behind its range (~3,250 trees in one multi-output call, about two thirds of the answer's time), plus
# counting the people like the asker; and for someone who gave no family, both over the ~8 families
# of passengers like them. Measured side by side with the previous answer (probability and reasons
# only, 0.52 ms p50 then against a 0.5 ms target): ~1.1 ms with a family, ~2.3 ms without, so 2.5 ms.
SINGLE_P50_TARGET_MS = 2.5
TRAIN_TARGET_S = 10.0

# A spread of people as they would describe themselves, some leaving things out.
PEOPLE = (
    Passenger.create(pclass=1, sex="female", age=29, sibsp=1),
    Passenger.create(pclass=3, sex="male", age=30),
    Passenger.create(pclass=2, sex="female", age=8, parch=2, embarked="C"),
    Passenger.create(pclass=3, sex="male", age=4, sibsp=3, parch=1, fare=21),
    Passenger.create(pclass=1, sex="male", title="Rare", fare=80, embarked="S"),
    Passenger.create(pclass=2, sex="male"),
)


def bench_train(home: Path) -> tuple[LocalRegistry, dict[str, Any]]:
    """Nested CV + holdout twin + final fit with its members + register, with the default recipe."""
    registry = LocalRegistry(home)
    started, cpu = time.perf_counter(), time.process_time()
    trained = train_and_register(registry, actor="bench", comment="bench", config=TrainConfig())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    cv, table = trained.result.cv_metrics, trained.result.cv_table_metrics
    detail = (
        f"cpu {cpu:.2f} s; {trained.version.version} {trained.version.info['cv']}: log loss {cv['log_loss']:.3f}"
        f" (12-number table {table['log_loss']:.3f}), brier {cv['brier']:.3f}, ece {cv['ece']:.3f}"
    )
    return registry, row(
        "train: nested CV + holdout twin + fit with 50 members + register (default TrainConfig)",
        round(seconds, 2),
        "s",
        f"≤ {TRAIN_TARGET_S:g} s",
        seconds <= TRAIN_TARGET_S,
        detail,
    )


def bench_single(registry: LocalRegistry, calls: int = SINGLE_CALLS) -> list[dict[str, Any]]:
    """Scorer.predict (probability + likely range + SHAP reasons + assumptions + people like you)
    for one passenger, in process."""
    scorer = Scorer(registry, refresh_seconds=3600.0)
    for person in PEOPLE:  # load the model and warm up
        scorer.predict(person)
    timings, cpu = np.empty(calls), np.empty(calls)
    gc.collect()
    gc.disable()
    try:
        for i in range(calls):
            person = PEOPLE[i % len(PEOPLE)]
            started, cpu_started = time.perf_counter_ns(), time.thread_time_ns()
            scorer.predict(person)
            timings[i] = time.perf_counter_ns() - started
            cpu[i] = time.thread_time_ns() - cpu_started
    finally:
        gc.enable()
    timings /= 1e6
    cpu /= 1e6
    p50, p99 = float(np.percentile(timings, 50)), float(np.percentile(timings, 99))
    # Someone who gave no family is answered over the families of passengers like them.
    averaged = np.array(
        [
            PEOPLE[i % len(PEOPLE)].sibsp is None and PEOPLE[i % len(PEOPLE)].parch is None
            for i in range(calls)
        ]
    )
    return [
        row(
            "single: Scorer.predict p50",
            round(p50, 3),
            "ms",
            f"≤ {SINGLE_P50_TARGET_MS:g} ms",
            p50 <= SINGLE_P50_TARGET_MS,
            f"{calls} calls, min {timings.min():.3f} ms, cpu p50 {np.percentile(cpu, 50):.3f} ms; p50 family given"
            f" {np.percentile(timings[~averaged], 50):.3f} ms, not given {np.percentile(timings[averaged], 50):.3f} ms",
        ),
        row(
            "single: Scorer.predict p99",
            round(p99, 3),
            "ms",
            "",
            True,
            f"{calls} calls, cpu p99 {np.percentile(cpu, 99):.3f} ms",
        ),
    ]


def run(calls: int = SINGLE_CALLS) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="lifeboat-ml-bench-"))
    try:
        registry, train_row = bench_train(workdir / "home")
        try:
            results = [*bench_single(registry, calls), train_row]
        finally:
            registry.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def main() -> list[dict[str, Any]]:
    return report(run())


if __name__ == "__main__":
    main()
