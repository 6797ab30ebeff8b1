"""Charts to Slack: `files_upload_v2`, retried where that is safe, and never at the cost of an answer.

`WebClient.files_upload_v2` makes three calls: `files.getUploadURLExternal` (a file id and an upload
URL), a POST of the bytes to that URL, and `files.completeUploadExternal`. The first and last are
Web API calls and go through the client's retry handlers (bot.transport.delivery: 5xx, 429, no
connection). The POST of the bytes is made by slack_sdk with plain urllib, outside those handlers,
so a failure there (a 5xx, a refused connection, a timeout) retries the whole upload here, a
couple of times with a short backoff. That is always safe: a file whose upload was never completed
is shown nowhere, and a retry gets a new file id. What Slack refuses for good (`ok: false`: a
missing `files:write` scope, uploads disabled) is not retried.

The file is uploaded without a channel: it belongs to the bot, shared nowhere, and an image block
shows it with `slack_file: {"id": ...}`. When anything fails, the upload gives None and the
caller answers without the picture: every answer also says in text what its chart shows.

Uploads of charts that never change (a version's model card) are kept by key in `UploadedImages`,
so each is uploaded once per process.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError

log = logging.getLogger("lifeboat.uploads")

ATTEMPTS = 3
BACKOFF_SECONDS = 0.25
FILE_ID = re.compile(r"F[A-Z0-9]{8,}")  # what Slack's image block accepts as slack_file.id


@dataclass(frozen=True)
class Image:
    """An uploaded picture, as an image block shows it."""

    file_id: str
    alt: str
    title: str


# How an upload ended, as /metrics and /healthz count it.
UPLOADED, REFUSED, FAILED = "uploaded", "refused", "failed"
UPLOAD_OUTCOMES = (UPLOADED, REFUSED, FAILED)


def upload_png(
    client: WebClient, png: bytes, *, filename: str, title: str, alt: str, attempts: int = ATTEMPTS
) -> tuple[Image | None, str]:
    """Upload `png` (files_upload_v2, no channel): the image (None when it could not be done) and
    how it ended: uploaded, refused (Slack said no: not retried) or failed (no answer, retried)."""
    for attempt in range(1, attempts + 1):
        try:
            response = client.files_upload_v2(content=png, filename=filename, title=title, alt_txt=alt)
        except SlackApiError as exc:  # Slack answered and refused: the same call would be refused again
            log.warning("chart %s not uploaded: %s", filename, exc.response.get("error"))
            return None, REFUSED
        except (SlackRequestError, URLError, ConnectionError, TimeoutError) as exc:
            # The bytes' POST failed (or a call got no answer): a retry starts a new, unseen file.
            log.warning("chart %s upload attempt %d failed: %s", filename, attempt, type(exc).__name__)
            if attempt < attempts:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            continue
        file_id = (response.get("file") or {}).get("id")
        if isinstance(file_id, str) and FILE_ID.fullmatch(file_id):
            return Image(file_id, alt, title), UPLOADED
        log.warning("chart %s: the upload answered no file id", filename)
        return None, REFUSED
    return None, FAILED


class UploadedImages:
    """The bot's one way to upload a chart: every upload counted by how it ended (`observe` tells
    the metrics too), and uploads by key (`get`) done once per process, for charts that never change
    such as a version's; a failed upload is not kept, so the next caller tries again."""

    def __init__(self) -> None:
        self._images: dict[str, Image] = {}
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(UPLOAD_OUTCOMES, 0)
        self._observers: list[Callable[[str], None]] = []

    def observe(self, observer: Callable[[str], None]) -> None:
        """Also tell `observer(outcome)` how each upload ended."""
        self._observers.append(observer)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def upload(self, client: WebClient, png: bytes, *, filename: str, title: str, alt: str) -> Image | None:
        """Upload `png` now (not kept); None when it could not be done."""
        image, outcome = upload_png(client, png, filename=filename, title=title, alt=alt)
        with self._lock:
            self._counts[outcome] += 1
        for observer in self._observers:
            observer(outcome)
        return image

    def get(
        self, client: WebClient, key: str, render: Callable[[], bytes], *, filename: str, title: str, alt: str
    ) -> Image | None:
        with self._lock:
            kept = self._images.get(key)
        if kept is not None:
            return kept
        image = self.upload(client, render(), filename=filename, title=title, alt=alt)
        if image is not None:
            with self._lock:
                self._images.setdefault(key, image)
        return image

    def forget(self) -> None:
        with self._lock:
            self._images.clear()
