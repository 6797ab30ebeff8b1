"""`GET /metrics`: the bot in Prometheus' text format (prometheus_client).

Series (all prefixed `lifeboat_`):
- requests_total{kind, outcome}: every Slack request (kind: slash_command, block_actions,
  view_submission, ..., unknown when it was refused before its body was read; outcome: ok,
  refused (400/401/413), unhandled (no listener), error (5xx));
- requests_in_flight: requests received and not yet answered over HTTP;
- ack_seconds{kind}: arrival to acknowledgement (Slack's limit is 3 s);
- answer_seconds{kind}: arrival until the listener finished answering (reply posted, or handed
  to the retrier);
- answers_total{outcome}: answers to users delivered / retried / lost / unconfirmed (as /healthz);
  web_api_retries_total: Web API calls tried again;
- scoring_total{path}: passengers scored, by path (local, warehouse, fallback) as the scorer counts;
- retrain_runs_total{outcome}: retraining runs followed to their end (promoted, kept, failed);
- model_info{model, version, backend}: the version being served, read at scrape time.

Several worker processes (`lifeboat run --http --workers N`) share one scrape: with
PROMETHEUS_MULTIPROC_DIR set before prometheus_client is imported (`lifeboat run` does it for
N > 1), every process writes its values to files there and `/metrics` adds up all of them; a dead
worker's live gauge is dropped at the next scrape, its counters stay counted.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import InfoMetricFamily
from prometheus_client.registry import Collector

from ml.io.runs import Run
from ml.io.serving import PassengerScorer

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
ANSWER_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV, "").strip()
    return Path(value) if value else None


def request_outcome(status: int) -> str:
    if status < 400:
        return "ok"
    if status in (400, 401, 413):
        return "refused"
    if status == 404:
        return "unhandled"
    return "error"


def run_outcome(run: Run) -> str:
    if run.status != "succeeded":
        return "failed"
    return "promoted" if run.promoted else "kept"


class BotMetrics:
    """One process's metrics. Each has its own registry, so tests may build as many bots as they
    like; in multi-process mode the values live in PROMETHEUS_MULTIPROC_DIR instead."""

    def __init__(self) -> None:
        # prometheus_client chose where values live when it was imported: files only if
        # PROMETHEUS_MULTIPROC_DIR was set by then (a .env read later changes nothing here).
        self.directory = multiprocess_dir() if values.ValueClass is not values.MutexValue else None
        if self.directory is not None:  # the values' files are made with the metrics, just below
            self.directory.mkdir(parents=True, exist_ok=True)
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("lifeboat_requests", "Slack requests", ["kind", "outcome"], registry=r)
        self.in_flight = Gauge(
            "lifeboat_requests_in_flight",
            "Requests not yet answered",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.ack_seconds = Histogram(
            "lifeboat_ack_seconds", "Arrival to acknowledgement", ["kind"], buckets=ACK_BUCKETS, registry=r
        )
        self.answer_seconds = Histogram(
            "lifeboat_answer_seconds",
            "Arrival until the listener finished answering",
            ["kind"],
            buckets=ANSWER_BUCKETS,
            registry=r,
        )
        self.answers = Counter("lifeboat_answers", "Answers to users by outcome", ["outcome"], registry=r)
        self.web_api_retries = Counter("lifeboat_web_api_retries", "Web API calls tried again", registry=r)
        self.scoring = Counter("lifeboat_scoring", "Passengers scored, by path", ["path"], registry=r)
        self.uploads = Counter("lifeboat_uploads", "Chart uploads by outcome", ["outcome"], registry=r)
        self.retrain_runs = Counter(
            "lifeboat_retrain_runs", "Retraining runs followed to their end", ["outcome"], registry=r
        )
        self._scored: dict[str, int] = {}  # the scorer's counts already added to `scoring`
        self._lock = threading.Lock()
        self._live: list[Collector] = []

    # -- what the bot reports -----------------------------------------------------------------
    def request_done(self, kind: str, status: int, seconds: float) -> str:
        outcome = request_outcome(status)
        self.requests.labels(kind, outcome).inc()
        if outcome == "ok":
            self.ack_seconds.labels(kind).observe(seconds)
        return outcome

    def answered(self, kind: str, seconds: float, scorer: Any) -> None:
        self.answer_seconds.labels(kind).observe(seconds)
        self.sync_scoring(scorer)

    def count_answer(self, outcome: str, n: int = 1) -> None:
        """bot.transport.delivery's counts, as they happen."""
        if outcome == "web_api_retries":
            self.web_api_retries.inc(n)
        else:
            self.answers.labels(outcome).inc(n)

    def count_upload(self, outcome: str) -> None:
        """bot.transport.uploads: uploaded, refused (Slack said no) or failed (no answer)."""
        self.uploads.labels(outcome).inc()

    def retrain_finished(self, run: Run) -> None:
        self.retrain_runs.labels(run_outcome(run)).inc()

    def sync_scoring(self, scorer: PassengerScorer) -> None:
        """Add what the scorer counted since the last call (counters only go up, also across
        processes, so the scorer's own totals are added as differences)."""
        with self._lock:
            for path, total in scorer.scoring_paths().items():
                added = total - self._scored.get(path, 0)
                if added > 0:
                    self.scoring.labels(path).inc(added)
                    self._scored[path] = total

    # -- the scrape ---------------------------------------------------------------------------
    def read_at_scrape(self, collector: Collector) -> None:
        """Series worked out when scraped (what is served), not counted as things happen."""
        self.registry.register(collector)
        self._live.append(collector)

    def exposition(self) -> bytes:
        """The text of a scrape: this process's metrics, or in multi-process mode every worker's."""
        directory = self.directory
        if directory is None:
            return generate_latest(self.registry)
        forget_dead_workers(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(directory))
        for collector in self._live:
            registry.register(collector)
        return generate_latest(registry)


class ServingInfo(Collector):
    """`lifeboat_model_info`: what is served, asked of the scorer at scrape time (one registry
    serves every worker, so any worker's answer is everyone's)."""

    def __init__(self, model_name: str, backend: str, scorer: Any) -> None:
        self.model_name = model_name
        self.backend = backend
        self.scorer = scorer

    def collect(self) -> Iterator[InfoMetricFamily]:
        try:
            version = str(self.scorer.version)
        except Exception:  # no model can be served: say so rather than fail the scrape
            version = "none"
        yield InfoMetricFamily(
            "lifeboat_model",
            "The model version being served",
            value={"model": self.model_name, "version": version, "backend": self.backend},
        )


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of worker processes that are gone (their counters stay counted)."""
    for pid in _pids_with_files(directory):
        if not process_alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def _pids_with_files(directory: Path) -> set[int]:
    pids = set()
    for path in directory.glob("*_*.db"):
        tail = path.stem.rsplit("_", 1)[-1]
        if tail.isdigit():
            pids.add(int(tail))
    return pids


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a worker killed but not yet reaped by the server is a zombie: gone all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def prepare_multiprocess_dir(directory: Path) -> None:
    """An empty directory for this server's workers: values left by an earlier run would be added
    to this one's."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def seconds_since(started: float | None) -> float:
    return 0.0 if started is None else max(0.0, time.monotonic() - started)
