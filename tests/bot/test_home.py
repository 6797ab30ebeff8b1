"""The Slack-native surfaces of issue 14 through Slack's protocol: signed requests in, Web API calls
out (views.publish, files.* and image blocks on the fake Slack).

App Home for everyone and for admins, charts (uploaded once, shown by file id, text when an upload
fails), and the real passengers by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.webhook import WebhookClient

from bot.app import build_app
from bot.blocks import home as home_blocks
from bot.blocks import names as name_blocks
from bot.blocks import survive as survive_blocks
from bot.home_store import HomeStore
from bot.listeners.replies import Reply, respond_with_pictures
from bot.local import Call, FakeSlackWebAPI, SlackClientSimulator, serve_asgi_in_thread
from bot.services import Services
from bot.settings import BotSettings
from bot.transport.http import build_asgi
from ml.config import MLSettings
from tests.support.bot import SECRET, TOKEN, Bot, all_text, buttons, settle
from tests.support.models import register_copy_of_v1

ADMIN, ALICE = "U_ADMIN", "U_ALICE"


@pytest.fixture
def bot(home: Path, fake: FakeSlackWebAPI) -> Iterator[Bot]:
    """A bot whose admin is U_ADMIN, with a second version (V2, not the default) to promote."""
    register_copy_of_v1(home)
    fake.reset()
    settings = BotSettings(
        bot_token=TOKEN, signing_secret=SECRET, api_url=fake.base_url, admins=frozenset({ADMIN})
    )
    services = Services.create(MLSettings.from_env(), settings)
    assert services.home_refresher is not None
    services.home_refresher.interval = 0.1  # the refresher's thread starts with the server
    services.scorer.refresh_seconds = 0  # type: ignore[attr-defined]
    app = build_app(services)
    with serve_asgi_in_thread(build_asgi(app, services)) as url:
        fake.clear()
        yield Bot(services, url, fake, SlackClientSimulator(f"{url}/slack/events", SECRET, fake))
    services.registry.close()


def open_home(bot: Bot, user: str, tab: str = "home") -> None:
    resp = bot.sim.event({"type": "app_home_opened", "user": user, "channel": f"D{user}", "tab": tab})
    assert resp.status == 200


def published(bot: Bot, user: str, what: str = "", after: int = 0) -> dict[str, Any]:
    """The view of the (after+1)-th views.publish for `user` whose text has `what`."""
    calls = bot.fake.wait_for(
        "views.publish", lambda c: c.args["user_id"] == user and what in all_text(c), count=after + 1
    )
    call = calls[after]
    assert call.ok, call.response
    return call.args["view"]


def images_shown(bot: Bot, blocks: list[dict[str, Any]]) -> list[str]:
    """File ids of the image blocks, each checked to be a completed upload on the fake Slack."""
    ids = [b["slack_file"]["id"] for b in blocks if b["type"] == "image"]
    files = bot.fake.files
    assert all(files[i]["completed"] for i in ids)
    return ids


def click(bot: Bot, action_id: str, value: str, user: str, view: dict[str, Any] | None = None) -> None:
    resp = bot.sim.block_action(action_id, value, user_id=user, view=view, channel_id=None)
    assert resp.status == 200


def test_home_shows_the_card_its_charts_the_last_answers_and_forgets_on_request(bot: Bot) -> None:
    bot.reply_to(bot.survive("1st class woman, 29", user_id=ALICE))
    open_home(bot, ALICE, tab="messages")  # the Messages tab is not ours to draw
    open_home(bot, ALICE)
    view = published(bot, ALICE)
    text = all_text(view)
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    assert "Model card" in text and "TITANIC V1 (default)" in text and "12-number table" in text
    assert "Predicted vs observed" in text and "Mean |effect on the odds|" in text  # the charts in words
    assert len(images_shown(bot, view["blocks"])) == 2  # reliability diagram, contributions
    assert "1st class female, age 29" in text and "Forget me" in text
    assert "Admin" not in text and "Promote" not in text  # Alice is no admin
    assert buttons(view["blocks"])[survive_blocks.OPEN_FORM_ACTION]["text"]["text"] == "Would you survive?"
    assert len(bot.fake.calls("views.publish")) == 1
    uploads = len(bot.fake.calls("files.completeUploadExternal"))

    open_home(bot, ALICE)  # again: the version's charts are not uploaded twice
    published(bot, ALICE, after=1)
    assert len(bot.fake.calls("files.completeUploadExternal")) == uploads

    stored = bot.fake.views[f"VHOME{ALICE}"]
    click(bot, home_blocks.FORGET_ACTION, "forget", ALICE, view=stored)
    forgotten = all_text(published(bot, ALICE, "Forgotten: 1 answer deleted"))
    assert "Nothing yet" in forgotten and "1st class female" not in forgotten
    assert bot.services.home_store.recent(ALICE) == []

    # The form opens from Home; with no channel its answer comes by DM.
    click(bot, survive_blocks.OPEN_FORM_ACTION, "{}", ALICE, view=stored)
    [opened] = bot.fake.wait_for("views.open")
    assert opened.ok and opened.args["view"]["callback_id"] == "survive_modal"


def test_an_admin_promotes_and_rolls_back_from_home_and_a_forged_click_is_refused(bot: Bot) -> None:
    registry = bot.services.registry
    open_home(bot, ALICE)
    published(bot, ALICE)
    open_home(bot, ADMIN)
    admin_view = published(bot, ADMIN, "Admin")
    versions = {
        b["block_id"]: b for b in admin_view["blocks"] if b.get("block_id", "").startswith("home_version")
    }
    assert versions["home_version_V2"]["accessory"]["action_id"] == home_blocks.PROMOTE_ACTION
    assert "accessory" not in versions["home_version_V1"]  # the default: nothing to do

    # Alice forges the admin's click: refused, recorded, nothing changes; her Home has no admin part.
    click(bot, home_blocks.PROMOTE_ACTION, "V2", ALICE, view=bot.fake.views[f"VHOME{ALICE}"])
    refused = all_text(published(bot, ALICE, "Only lifeboat admins"))
    assert "Admin" not in refused
    assert registry.get_default() == "V1"
    event = registry.history(1)[0]
    assert (event.action, event.actor, event.outcome) == ("retrain-refused", ALICE, "refused")

    click(bot, home_blocks.PROMOTE_ACTION, "V2", ADMIN, view=bot.fake.views[f"VHOME{ADMIN}"])
    after = published(bot, ADMIN, "promoted V1 → V2")
    assert "TITANIC V2 (default)" in all_text(after)
    assert registry.get_default() == "V2"
    event = registry.history(1)[0]
    assert (event.action, event.actor, event.details.get("via")) == ("promote", ADMIN, "home")
    # Alice had Home open: it is published again with the new default, without her asking.
    assert "TITANIC V2 (default)" in all_text(published(bot, ALICE, "TITANIC V2 (default)"))

    rollback = {b.get("block_id"): b for b in after["blocks"]}["home_version_V1"]["accessory"]
    assert (rollback["action_id"], rollback["value"]) == (home_blocks.ROLLBACK_ACTION, "V1")
    click(bot, home_blocks.ROLLBACK_ACTION, "V1", ADMIN, view=bot.fake.views[f"VHOME{ADMIN}"])
    assert "TITANIC V1 (default)" in all_text(published(bot, ADMIN, "rolled back V2 → V1"))
    # A stale Roll back (V1 is no longer what a rollback returns to) changes nothing.
    click(bot, home_blocks.ROLLBACK_ACTION, "V1", ADMIN, view=bot.fake.views[f"VHOME{ADMIN}"])
    published(bot, ADMIN, "no longer what a rollback returns to")
    assert registry.get_default() == "V1"
    assert [e.action for e in registry.history(2)] == ["rollback", "promote"]


def test_one_replica_republishes_each_home_after_a_default_change(tmp_path: Path) -> None:
    first, second = HomeStore(tmp_path / "home.db"), HomeStore(tmp_path / "home.db")
    first.opened("U1", "V1#1", now=1000.0)
    first.opened("U2", "V1#1", now=1000.0)
    first.opened("U_OLD", "V1#1", now=10.0)  # opened long ago: not refreshed
    claimed = [
        first.claim_stale("V2#2", since=500.0, limit=10),
        second.claim_stale("V2#2", since=500.0, limit=10),
    ]
    assert sorted(claimed[0] + claimed[1]) == ["U1", "U2"] and claimed[1] == []
    for n in range(7):
        first.remember("U1", {"label": f"answer {n}"}, now=2000.0 + n)
    assert [a["label"] for a in second.recent("U1")] == [f"answer {n}" for n in (6, 5, 4, 3, 2)]
    assert second.forget("U1") == 5 and first.recent("U1") == []


def test_model_card_and_show_chart_are_pictures_with_text_beside_them(bot: Bot) -> None:
    card = bot.reply_to(bot.survive("model"))
    assert len(images_shown(bot, card.args["blocks"])) == 2
    assert "Predicted vs observed" in all_text(card)

    answer = bot.reply_to(bot.survive("3rd class man, 30"))
    chart = buttons(answer.args["blocks"])[survive_blocks.CHART_ACTION]
    resp = bot.sim.block_action(survive_blocks.CHART_ACTION, chart["value"], channel_id="C_GENERAL")
    reply = bot.reply_to(resp)
    [file_id] = images_shown(bot, reply.args["blocks"])
    assert bot.fake.file_bytes(file_id)[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Being a man" in reply.args["blocks"][0]["alt_text"]  # said in words too

    # Slack refusing the upload (no files:write) costs the picture, not the answer.
    bot.fake.fail_next("files.completeUploadExternal", "missing_scope")
    reply = bot.reply_to(
        bot.sim.block_action(survive_blocks.CHART_ACTION, chart["value"], channel_id="C_GENERAL")
    )
    assert "could not be made" in all_text(reply) and not [
        b for b in reply.args["blocks"] if b["type"] == "image"
    ]


def test_a_reply_whose_picture_is_refused_is_sent_again_as_text(fake: FakeSlackWebAPI) -> None:
    url = fake.make_response_url(channel_id="C_GENERAL", user_id=ALICE)
    webhook = WebhookClient(url)
    reply = Reply(
        "x", [{"type": "image", "slack_file": {"id": "F404404404"}, "alt_text": "a"}, {"type": "divider"}]
    )
    respond_with_pictures(lambda **kwargs: webhook.send(**kwargs), reply)
    posts = [c for c in fake.calls("response_url") if c.args["url"] == url]
    assert [(c.status, len(c.args["blocks"])) for c in posts] == [(404, 2), (200, 1)]


def name_reply(bot: Bot, text: str) -> Call:
    resp = bot.survive(text)
    assert resp.status == 200 and resp.body == b""
    return bot.reply_to(resp)


def test_the_real_passengers_by_name(bot: Bot) -> None:
    astor = all_text(name_reply(bot, "Astor"))
    assert "Astor, Mrs. John Jacob (Madeleine Talmadge Force)" in astor
    assert "What really happened: she survived." in astor and "chance of survival for her attributes" in astor
    assert (
        "The model learnt from this very record" in astor
        and "not a prediction for someone it has not seen" in astor
    )
    assert "A model that never saw this record (nested cross-validation) said" in astor

    molly = name_reply(bot, "“Molly Brown”")  # quoted: a name, whatever it says; no Molly, so the Browns
    assert "No passenger called “Molly Brown”" in all_text(molly)
    picks = {b["accessory"]["value"]: b for b in molly.args["blocks"] if b.get("accessory")}
    margaret = next(v for v in picks if "Margaret Tobin" in v)
    picked = bot.reply_to(bot.sim.block_action(name_blocks.PICK_ACTION, margaret, channel_id="C_GENERAL"))
    assert "Brown, Mrs. James Joseph (Margaret Tobin)" in all_text(picked) and "she survived" in all_text(
        picked
    )

    several = name_reply(bot, "Mrs Brown")  # a title and a surname: a name
    assert "3 passengers in the records match" in all_text(several)
    stale = bot.sim.block_action(name_blocks.PICK_ACTION, json.dumps({"v": "V9", "r": 1, "n": "Nobody"}))
    assert "out of date" in all_text(bot.reply_to(stale))

    # Not names: a description (even one holding a surname-like word), and a misspelt surname.
    assert "chance of survival. You would" in name_reply(bot, "3rd class man, 30").args["text"]
    assert "chance of survival. You would" in name_reply(bot, "young woman, 1st class").args["text"]
    misspelt = all_text(bot.survive("Astr").json())
    assert "couldn't find a passenger" in misspelt and "Did you mean `/survive Astor`?" in misspelt
    unknown = all_text(name_reply(bot, '"Zzyzx <@U_BOB>"'))
    assert "No passenger called “Zzyzx &lt;@U_BOB&gt;”" in unknown and "<@U_BOB>" not in unknown
    settle(bot)
    assert [a["label"] for a in bot.services.home_store.recent(ALICE)][-1] == (
        "Astor, Mrs. John Jacob (Madeleine Talmadge Force)"
    )


def test_the_manifest_declares_what_the_new_surfaces_need() -> None:
    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text())
    assert "files:write" in manifest["oauth_config"]["scopes"]["bot"]
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "app_mention",
        "message.im",
    ]
    assert {"app_mentions:read", "im:history"} <= set(manifest["oauth_config"]["scopes"]["bot"])
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True  # answers by DM, as before
