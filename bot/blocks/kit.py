"""Block Kit's small pieces, shared by every builder: text objects, sections, buttons, escaping.

Builders are pure functions (data in, JSON-ready dicts out); each lives beside the listener that
sends what it builds.
"""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def text(content: str, kind: str = "mrkdwn") -> dict[str, Any]:
    return {"type": kind, "text": content}


def plain_text(content: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": content, "emoji": True}


def section(content: str) -> Block:
    return {"type": "section", "text": text(content)}


def context(*texts: str) -> Block:
    return {"type": "context", "elements": [text(t) for t in texts]}


def button(label: str, action_id: str, value: str = "", style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": plain_text(label), "action_id": action_id}
    if value:
        element["value"] = value
    if style:
        element["style"] = style
    return element


def option(label: str, value: str) -> dict[str, Any]:
    return {"text": plain_text(label), "value": value}


ECHO_LIMIT = 200  # characters of user text quoted back


def escape(raw_text: str, limit: int | None = ECHO_LIMIT) -> str:
    """Text from a user (or an error message quoting it) made safe to put in a message: no
    mentions, links or @channel, and at most `limit` characters of it (None: all of it).

    Slack already sends `&`, `<`, `>` in slash-command text as entities: decode those first so
    they are not escaped twice ("&amp;amp;" would show as "&amp;"). Cut before escaping, so an
    entity is never cut in half."""
    raw = raw_text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if limit is not None and len(raw) > limit:
        raw = raw[: limit - 1] + "…"
    return raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def image(file_id: str, alt: str, title: str | None = None) -> Block:
    """An image block showing an uploaded file (files_upload_v2) by its id."""
    block: Block = {"type": "image", "slack_file": {"id": file_id}, "alt_text": alt[:2000]}
    if title:
        block["title"] = plain_text(title[:2000])
    return block


def without_images(blocks: list[Block]) -> list[Block]:
    """The same blocks without image blocks: what is sent when Slack would not show the pictures
    (every builder also says in text what its pictures show)."""
    return [block for block in blocks if block.get("type") != "image"]
