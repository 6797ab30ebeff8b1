"""`python -m ml.jobs.worker RUN_ID [--data CSV]`: the retraining worker process the bot starts.

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
    from ml.jobs.retrain import worker_main  # the heavy imports, now at the lower priority

    return worker_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
