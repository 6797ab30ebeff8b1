"""`python -m ml.worker RUN_ID [--data CSV]`: the retraining worker process the bot starts.

It lowers its own priority before importing anything heavy: pandas, scikit-learn and xgboost take
about 1.3 s of CPU to import, and that start-up is as much background work as the training. At
normal priority it competed with the bot's `/survive` answers at the start of every run.
Standard library only until then.
"""

from __future__ import annotations

import contextlib
import os
import sys

WORKER_NICENESS = 10


def main(argv: list[str]) -> int:
    if hasattr(os, "nice"):  # Unix; elsewhere the worker runs at normal priority
        with contextlib.suppress(OSError):  # not permitted: likewise
            os.nice(WORKER_NICENESS)
    return work(argv)


def work(argv: list[str]) -> int:
    """Do one acquired retraining run (its id from the bot) on the configured backend."""
    import argparse
    import logging

    # The heavy imports, now at the lower priority.
    from ml.backend import open_backend
    from ml.config import MLSettings
    from ml.core.training import TrainConfig
    from ml.io.runs import SUCCEEDED
    from ml.jobs.retrain import execute_run

    parser = argparse.ArgumentParser(prog="python -m ml.worker")
    parser.add_argument("run_id")
    parser.add_argument("--data")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s retrain-worker %(levelname)s %(message)s")
    settings = MLSettings.from_env()
    backend = open_backend(settings)
    try:
        # One training thread: the other core stays free for the bot's /survive traffic.
        config = TrainConfig.from_settings(settings, nthread=1)
        run = execute_run(
            args.run_id, backend.registry, backend.runs, data=args.data, config=config, work=backend.work
        )
    finally:
        backend.close()
    return 0 if run.status == SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
