"""The Slack bot under load, as Slack would drive it: `lifeboat run --http` as a real process.

A `FakeSlackWebAPI` in this process plays slack.com (auth.test at start-up, and the response URLs
the answers are posted to); `SlackClientSimulator` sends signed `/survive` requests, 20 at a time.

- ack latency: the HTTP answer to the signed request (Slack gives up at 3 s);
- reply latency: from sending the request until the fake receives the answer on its response URL;
- replies/s over the whole run, and errors of any kind (non-200, no reply, a reply with no answer);
- cold start: process start until the first answer is posted (local backend, model pre-trained).

Run alone with `python -m bench.bot_bench` or with the others via `python -m bench`. Loopback only.
Figures depend on the machine and on what else it runs; compare runs made on the same machine.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import report, row
from bot.local import Call, FakeSlackWebAPI, SlackClientSimulator

REQUESTS = 1_000
CONCURRENCY = 20
COLD_STARTS = 3
ACK_P99_TARGET_MS = 50.0
REPLY_P99_TARGET_MS = 150.0
REPLIES_PER_S_TARGET = 150.0
COLD_START_TARGET_S = 3.0
REPLY_TIMEOUT_S = 30.0
START_TIMEOUT_S = 60.0
COMPARE_WORKERS = 2  # also measure N uvicorn worker processes (informational row; 0 = skip)

TOKEN = "xoxb-bench"
SECRET = "bench-signing-secret"

CLASSES = ("1st class", "2nd class", "3rd class", "first class", "steerage")
WHO = ("woman", "man", "girl", "boy", "Mrs", "Mr", "Miss", "lady", "gentleman")
COMPANY = (
    "",
    ", travelling alone",
    ", with my husband",
    ", with 2 kids",
    ", with my parents",
    ", with my wife",
)
PORT_FARE = ("", ", from Southampton", ", from Cherbourg", ", fare £72", ", from Queenstown, fare £8")


def texts(n: int) -> list[str]:
    """n varied, complete descriptions (class and sex always given, so each gets a probability)."""
    combos = itertools.cycle(itertools.product(CLASSES, WHO, COMPANY, PORT_FARE))
    return [
        f"{cls} {who}, {(i * 7) % 70 + 1}{company}{extra}"
        for i, (cls, who, company, extra) in zip(range(n), combos, strict=False)
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = math.ceil(q / 100 * len(ordered))  # nearest rank
    return ordered[min(len(ordered), max(1, rank)) - 1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_home(home: Path) -> str:
    """A LIFEBOAT_HOME with one trained default version (quick to train, as costly to serve)."""
    from ml.core.training import TrainConfig
    from ml.io.local_registry import LocalRegistry
    from ml.jobs.train import train_and_register

    registry = LocalRegistry(home)
    try:
        quick = TrainConfig(cv_folds=2)  # less cross-validation; the served model is the default recipe's
        return train_and_register(registry, actor="bench", comment="bench", config=quick).version.version
    finally:
        registry.close()


class BotProcess:
    """`lifeboat run --http --port P` in a fresh process, pointed at the fake Slack (with `workers`,
    `uvicorn --factory bot.transport.http:create_asgi --workers N` instead: what several processes give)."""

    def __init__(
        self,
        home: Path,
        fake: FakeSlackWebAPI,
        workdir: Path,
        workers: int = 0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        script = Path(sys.executable).with_name("lifeboat")
        lifeboat = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
        if workers:
            command = [sys.executable, "-m", "uvicorn", "--factory", "bot.transport.http:create_asgi"]
            command += ["--workers", str(workers), "--host", "127.0.0.1", "--port", str(self.port)]
            command += ["--log-level", "warning", "--no-access-log"]
        else:
            command = [*lifeboat, "run", "--http", "--port", str(self.port)]
        extra_env = env
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LIFEBOAT_"))}
        env.update(
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=fake.base_url,
            LIFEBOAT_HOME=str(home),
            LIFEBOAT_BACKEND="local",
        )
        env.update(extra_env or {})
        self.log = (workdir / f"bot-{self.port}.log").open("w")
        self.started_at = time.time()
        # cwd: an empty directory, so no .env of the developer's is read
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-2000:]


class Replies:
    """When each response URL got its answer, as recorded by the fake (its clock: time.time())."""

    def __init__(self, fake: FakeSlackWebAPI) -> None:
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.calls: dict[str, Call] = {}
        self.unsubscribe: Callable[[], None] = fake.subscribe(self._on_call)

    def _on_call(self, call: Call) -> None:
        if call.method == "response_url":
            with self._lock:
                self.calls.setdefault(call.args["url"], call)
                self._arrived.notify_all()

    def wait(self, urls: list[str], timeout: float) -> dict[str, Call]:
        deadline = time.monotonic() + timeout
        with self._lock:
            self._arrived.wait_for(
                lambda: all(u in self.calls for u in urls), max(0.0, deadline - time.monotonic())
            )
            return {u: self.calls[u] for u in urls if u in self.calls}


def answered(call: Call | None) -> bool:
    return call is not None and call.ok and "%) chance of survival" in str(call.args.get("text", ""))


def cold_start(
    home: Path, fake: FakeSlackWebAPI, replies: Replies, workdir: Path
) -> tuple[float, float, float | None]:
    """Seconds from process start until (listening, first answer posted), and the CPU seconds the
    bot process had used by then (much less disturbed by a busy machine than wall-clock time)."""
    bot = BotProcess(home, fake, workdir)
    try:
        sim = SlackClientSimulator(f"{bot.url}/slack/events", SECRET, fake, timeout=10)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if not bot.alive():
                raise RuntimeError(f"the bot exited with {bot.process.returncode}:\n{bot.output()}")
            try:
                response = sim.slash_command("/survive", "1st class woman, 29")
                break
            except OSError:  # not listening yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bot did not listen within {START_TIMEOUT_S:.0f}s") from None
                time.sleep(0.005)
        listening = time.time() - bot.started_at
        url = response.sent["response_url"]
        call = replies.wait([url], REPLY_TIMEOUT_S).get(url)
        if response.status != 200 or not answered(call):
            raise RuntimeError(f"first request: HTTP {response.status}, reply {call}\n{bot.output()}")
        assert call is not None
        return listening, call.time - bot.started_at, cpu_seconds(bot.process.pid)
    finally:
        bot.stop()


def wait_healthy(url: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as resp:
                return dict(json.loads(resp.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def load(url: str, fake: FakeSlackWebAPI, replies: Replies, n: int, concurrency: int) -> dict[str, Any]:
    sim = SlackClientSimulator(f"{url}/slack/events", SECRET, fake, timeout=10)
    sent: list[tuple[str, float, float, int]] = []  # (response_url, sent at, ack seconds, status)
    errors: list[str] = []
    lock = threading.Lock()

    def one(i_text: tuple[int, str]) -> None:
        i, text = i_text
        started = time.time()
        try:
            response = sim.slash_command("/survive", text, user_id=f"U_LOAD{i % 50:02d}")
        except OSError as exc:
            with lock:
                errors.append(f"request {i}: {type(exc).__name__}: {exc}")
            return
        with lock:
            sent.append((response.sent["response_url"], started, response.elapsed, response.status))

    begin = time.time()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="bench-client") as pool:
        list(pool.map(one, enumerate(texts(n))))
    got = replies.wait([u for u, *_ in sent], REPLY_TIMEOUT_S)

    acks, reply_latencies, last = [], [], begin
    for url, started, ack, status in sent:
        acks.append(ack * 1000)
        call = got.get(url)
        if status != 200:
            errors.append(f"HTTP {status}")
        elif call is None:
            errors.append("no reply")
        elif not answered(call):
            errors.append(f"bad reply: {str(call.args.get('text'))[:80]}")
        if call is not None:
            reply_latencies.append((call.time - started) * 1000)
            last = max(last, call.time)
    return {
        "acks": acks,
        "replies": reply_latencies,
        "errors": errors,
        "seconds": last - begin,
        "answered": sum(answered(c) for c in got.values()),
    }


def measure(
    home: Path,
    fake: FakeSlackWebAPI,
    replies: Replies,
    workdir: Path,
    version: str,
    requests: int,
    concurrency: int,
    workers: int = 0,
) -> dict[str, Any]:
    bot = BotProcess(home, fake, workdir, workers)
    try:
        health = wait_healthy(bot.url, START_TIMEOUT_S)
        if health.get("model_version") != version:
            raise RuntimeError(f"unexpected health {health}")
        load(bot.url, fake, replies, 40 * max(1, workers), concurrency)  # warm-up: threads, caches
        cpu_before = cpu_seconds(bot.process.pid)
        result = load(bot.url, fake, replies, requests, concurrency)
        cpu_after = cpu_seconds(bot.process.pid)
        result["cpu"] = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        if not bot.alive():
            result["errors"].append(f"the bot died: {bot.output()}")
        return result
    finally:
        bot.stop()


def run(
    requests: int = REQUESTS,
    concurrency: int = CONCURRENCY,
    cold_starts: int = COLD_STARTS,
    compare_workers: int = COMPARE_WORKERS,
) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="lifeboat-bot-bench-"))
    home = workdir / "home"
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows: list[dict[str, Any]] = [
        row(
            "machine: CPUs, load average (1 min) before the run",
            os.cpu_count() or 0,
            "CPUs",
            "",
            True,
            f"load average {load_before:.2f}: the bot, the fake Slack and the clients share these CPUs",
        )
    ]
    try:
        version = prepare_home(home)
        with FakeSlackWebAPI(token=TOKEN, trigger_ttl=None, response_url_uses=5) as fake:
            replies = Replies(fake)
            colds = [cold_start(home, fake, replies, workdir) for _ in range(cold_starts)]
            worst = max(answer for _, answer, _ in colds)
            cpus = [cpu for _, _, cpu in colds if cpu is not None]
            rows.append(
                row(
                    "cold start: process start → first answer",
                    round(worst, 2),
                    "s",
                    f"≤ {COLD_START_TARGET_S:g} s",
                    worst <= COLD_START_TARGET_S,
                    f"worst of {len(colds)}; answers at {', '.join(f'{a:.2f}' for _, a, _ in colds)} s,"
                    f" listening at {', '.join(f'{s:.2f}' for s, _, _ in colds)} s"
                    + (f"; bot CPU {', '.join(f'{c:.2f}' for c in cpus)} s" if cpus else ""),
                )
            )

            result = measure(home, fake, replies, workdir, version, requests, concurrency)
            compared = (
                measure(home, fake, replies, workdir, version, requests, concurrency, workers=compare_workers)
                if compare_workers
                else None
            )
            replies.unsubscribe()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    acks, latencies, errors = result["acks"], result["replies"], result["errors"]
    rate = result["answered"] / result["seconds"] if result["seconds"] > 0 else 0.0
    load_detail = f"{requests} signed /survive, {concurrency} at a time"
    ack_p99, reply_p99 = percentile(acks, 99), percentile(latencies, 99)
    rows += [
        row(
            "ack latency p99",
            round(ack_p99, 1),
            "ms",
            f"≤ {ACK_P99_TARGET_MS:g} ms",
            ack_p99 <= ACK_P99_TARGET_MS,
            f"p50 {percentile(acks, 50):.1f}, p90 {percentile(acks, 90):.1f}, max {max(acks, default=0):.1f} ms;"
            f" {load_detail}",
        ),
        row(
            "reply latency p99 (response_url)",
            round(reply_p99, 1),
            "ms",
            f"≤ {REPLY_P99_TARGET_MS:g} ms",
            reply_p99 <= REPLY_P99_TARGET_MS,
            f"p50 {percentile(latencies, 50):.1f}, p90 {percentile(latencies, 90):.1f},"
            f" max {max(latencies, default=0):.1f} ms",
        ),
        row(
            "replies per second",
            round(rate, 1),
            "/s",
            f"≥ {REPLIES_PER_S_TARGET:g}/s",
            rate >= REPLIES_PER_S_TARGET,
            f"{result['answered']} answers in {result['seconds']:.2f} s"
            + (
                f"; bot CPU {result['cpu'] / requests * 1000:.2f} ms per request" if result.get("cpu") else ""
            ),
        ),
        row(
            "errors",
            len(errors),
            "",
            "0",
            not errors,
            "; ".join(f"{e} ×{errors.count(e)}" for e in sorted(set(errors))[:3]),
        ),
    ]
    if compared is not None:
        c_acks, c_replies = compared["acks"], compared["replies"]
        c_rate = compared["answered"] / compared["seconds"] if compared["seconds"] > 0 else 0.0
        rows.append(
            row(
                f"for comparison: {compare_workers} worker processes",
                round(c_rate, 1),
                "/s",
                "",
                True,
                f"ack p50/p99 {percentile(c_acks, 50):.1f}/{percentile(c_acks, 99):.1f} ms,"
                f" reply p50/p99 {percentile(c_replies, 50):.1f}/{percentile(c_replies, 99):.1f} ms,"
                f" {len(compared['errors'])} errors (uvicorn --factory bot.transport.http:create_asgi)",
            )
        )
    return rows


def main() -> list[dict[str, Any]]:
    return report(run())


if __name__ == "__main__":
    main()
