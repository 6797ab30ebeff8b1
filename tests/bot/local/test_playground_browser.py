"""The playground page in headless Chromium (Debian's), driven by Playwright: what a person sees and does.

The page talks to the real bot through the playground (signed requests, a fake Slack Web API), so
these tests cover the whole loop: typing, Block Kit rendering, buttons, modals, errors, /retrain.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from bot.local import serve_asgi_in_thread
from bot.local.playground.server import create_playground
from ml.config import MLSettings
from tests.support.models import FAST_ENV, register_copy_of_v1

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
RETRAIN_REGISTERED = importlib.util.find_spec("bot.listeners.commands.retrain") is not None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Debian's chromium is not installed (make test installs it with apt-get)",
    ),
]

ANSWER = re.compile(r"\d+% \(likely \d+–\d+%\) chance of survival")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def playground_url(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in FAST_ENV.items():
        monkeypatch.setenv(name, value)
    pg = create_playground(MLSettings.from_env(), say=lambda _: None)
    try:
        with serve_asgi_in_thread(pg.app) as url:
            try:
                yield url
            finally:
                pg.state.closed = True  # long-polls return at once, so the server stops at once
    finally:
        pg.close()


@pytest.fixture
def page(browser: Browser, playground_url: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{playground_url}/")
    expect(tab.locator("body[data-ready]")).to_have_count(1)
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def send(page: Page, text: str) -> None:
    """Type into the message box and press Enter, as a person would."""
    box = page.locator("#box")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def bot_messages(page: Page, *, ephemeral: bool | None = None) -> Locator:
    selector = ".msg--bot"
    if ephemeral is not None:
        selector += ".msg--ephemeral" if ephemeral else ":not(.msg--ephemeral)"
    return page.locator(selector)


def field(page: Page, block_id: str) -> Locator:
    return page.locator(f".modal .input-block[data-block-id='{block_id}']")


def test_the_form_shows_errors_under_the_field_and_stays_open_then_answers(page: Page) -> None:
    send(page, "/survive")
    dialog = page.get_by_role("dialog", name="Would you survive?")
    expect(dialog).to_be_visible()
    field(page, "pclass").locator("select").select_option(label="1st class")
    field(page, "sex").get_by_label("Female").check()
    field(page, "age").locator("input").fill("150")
    dialog.get_by_role("button", name="Tell me").click()

    error = field(page, "age").locator(".input-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("Age")
    expect(dialog).to_be_visible()
    expect(field(page, "pclass").locator(".input-error")).to_be_hidden()

    field(page, "age").locator("input").fill("29")
    dialog.get_by_role("button", name="Tell me").click()
    expect(dialog).to_have_count(0)
    expect(bot_messages(page, ephemeral=True).filter(has_text=ANSWER)).to_have_count(1)


def test_a_child_ticked_in_the_form_is_answered_as_a_boy_with_his_range_and_people_like_him(
    page: Page,
) -> None:
    send(page, "/survive")
    dialog = page.get_by_role("dialog", name="Would you survive?")
    field(page, "pclass").locator("select").select_option(label="3rd class")
    field(page, "sex").get_by_label("Male", exact=True).check()
    field(page, "child").get_by_label("A child (under 13)").check()
    dialog.get_by_role("button", name="Tell me").click()
    expect(dialog).to_have_count(0)
    answer = bot_messages(page, ephemeral=True).filter(has_text=ANSWER)
    expect(answer).to_have_count(1)
    expect(answer).to_contain_text("Being a boy")
    expect(answer).to_contain_text("People like you")
    expect(answer).to_contain_text("most like you (3rd class, male, under 13), 9 survived")
    expect(answer).to_contain_text("In the records: ")
    expect(answer).to_contain_text("age 4 (typical for a child)")


def test_cancel_closes_the_form(page: Page) -> None:
    send(page, "/survive")
    dialog = page.get_by_role("dialog", name="Would you survive?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)


def test_share_in_channel_shows_a_message_everyone_sees(page: Page) -> None:
    send(page, "/survive 3rd class man, 30, alone, from Southampton")
    answer = bot_messages(page, ephemeral=True).filter(has_text=ANSWER)
    answer.get_by_role("button", name="Share in channel").click()
    shared = bot_messages(page, ephemeral=False).filter(has_text="asked the Titanic model")
    expect(shared).to_have_count(1)
    expect(shared).to_contain_text(ANSWER)
    expect(shared.locator(".mention")).to_have_text("@Alice Liddell")
    expect(shared).not_to_contain_text("Only visible to you")

    # Ada sees the shared message, not Alice's private answer.
    page.locator("#who").select_option(label="Ada (admin)")
    expect(shared).to_have_count(1)
    expect(bot_messages(page, ephemeral=True)).to_have_count(0)


retrain_needed = pytest.mark.skipif(
    not RETRAIN_REGISTERED, reason="/retrain is not registered in the app (no bot.listeners.commands.retrain)"
)


@retrain_needed
def test_retrain_as_a_guest_is_refused_politely(page: Page) -> None:
    send(page, "/retrain")
    refusal = bot_messages(page, ephemeral=True)
    expect(refusal).to_have_count(1)
    expect(refusal).to_contain_text(re.compile(r"only .*admins", re.IGNORECASE))
    expect(page.locator(".msg--bot").filter(has_text=re.compile(r"promoted|kept"))).to_have_count(0)


@retrain_needed
def test_retrain_as_an_admin_reports_the_decision_in_one_message(page: Page) -> None:
    page.locator("#who").select_option(label="Ada (admin)")
    send(page, "/retrain")
    report = bot_messages(page, ephemeral=False).filter(has_text=re.compile(r"\b(promoted|kept) V\d+\b"))
    expect(report).to_have_count(1, timeout=45_000)
    # One message, edited in place as the steps completed (chat.postMessage, then chat.update).
    expect(bot_messages(page, ephemeral=False)).to_have_count(1)
    expect(report.locator(".edited")).to_be_visible()


def test_survive_stats_shows_each_table_as_a_code_block(page: Page) -> None:
    send(page, "/survive stats")
    answer = bot_messages(page, ephemeral=True).filter(has_text="Who survived the Titanic")
    expect(answer).to_have_count(1)
    tables = answer.locator("pre.code-block")
    expect(tables).to_have_count(5)  # sex, class, age, port, family size
    expect(tables.first).to_contain_text("female  233 of 314   74%        69–79%")
    expect(answer).to_contain_text("which TITANIC V1 was trained on")


def loaded_images(locator: Locator) -> int:
    """How many of the pictures under `locator` were fetched and drawn (not just referenced)."""
    return int(
        locator.locator("img").evaluate_all(
            "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length"
        )
    )


def test_home_charts_an_answer_a_passenger_by_name_and_an_admin_promoting_from_home(
    home: Path, page: Page
) -> None:
    """One page session (the page costs more than its checks): Home, answers, a chart, a name, an admin."""
    # V2 registered after the playground started: Home reads the registry when it is opened.
    register_copy_of_v1(home)
    page.locator("#nav-home").click()
    pane = page.locator("#home")
    expect(pane).to_contain_text("Model card")
    expect(pane).to_contain_text("TITANIC V1 (default)")
    expect(pane.get_by_role("button", name="Would you survive?")).to_be_visible()
    expect(pane.locator("figure.bk-image img")).to_have_count(2)  # reliability diagram, contributions
    expect(pane).not_to_contain_text("Admin")
    page.wait_for_function("() => [...document.querySelectorAll('#home img')].every(i => i.complete)")
    assert loaded_images(pane) == 2

    page.locator("#nav-channel").click()
    # An answer to a description, with its percentage, mrkdwn rendered (bold, emoji), not shown raw.
    send(page, "/survive 1st class woman, 29, with my husband")
    described = bot_messages(page, ephemeral=True).filter(has_text=ANSWER)
    expect(described).to_have_count(1)
    expect(described).to_contain_text("Only visible to you")
    expect(described).to_contain_text("Why")
    expect(described.get_by_role("button", name="Share in channel")).to_be_visible()
    expect(described.locator("b").filter(has_text=ANSWER)).to_have_count(1)
    expect(described).not_to_contain_text(":large_green_circle:")

    send(page, "/survive Astor")
    answer = bot_messages(page, ephemeral=True).filter(has_text="Astor, Mrs. John Jacob")
    expect(answer).to_contain_text("What really happened: she survived.")
    expect(answer).to_contain_text("The model learnt from this very record")
    answer.get_by_role("button", name="Show chart").click()
    chart = bot_messages(page, ephemeral=True).filter(has=page.locator("figure.bk-image img"))
    expect(chart).to_have_count(1)
    page.wait_for_function("() => [...document.querySelectorAll('.msg figure img')].every(i => i.complete)")
    assert loaded_images(chart) == 1

    page.locator("#who").select_option(label="Ada (admin)")
    page.locator("#nav-home").click()
    expect(pane).to_contain_text("Admin")
    version = pane.locator("[data-block-id='home_version_V2']")
    version.get_by_role("button", name="Promote").click()
    expect(pane).to_contain_text("promoted V1 → V2")
    expect(pane).to_contain_text("TITANIC V2 (default)")
    expect(
        pane.locator("[data-block-id='home_version_V1']").get_by_role("button", name="Roll back to V1")
    ).to_be_visible()


def test_mrkdwn_is_rendered_and_everything_else_escaped(page: Page) -> None:
    rendered = page.evaluate(
        """async () => {
            const { mrkdwn } = await import("/playground/static/mrkdwn.js");
            const ctx = { userName: (id) => (id === "U_ALICE" ? "Alice Liddell" : id) };
            return [
                mrkdwn("*bold* _italic_ ~gone~ `a*b*c` :tada: <@U_ALICE> <https://x.io/a_b|docs>", ctx),
                mrkdwn("&lt;script&gt; <javascript:alert(1)|click> <img src=x onerror=alert(1)> \\"q\\"", ctx),
            ];
        }"""
    )
    formatted, hostile = rendered
    assert "<b>bold</b>" in formatted and "<i>italic</i>" in formatted and "<s>gone</s>" in formatted
    assert "<code>a*b*c</code>" in formatted and "🎉" in formatted
    assert '<span class="mention" data-user="U_ALICE">@Alice Liddell</span>' in formatted
    assert '<a href="https://x.io/a_b" target="_blank" rel="noopener noreferrer">docs</a>' in formatted
    assert "&lt;script&gt;" in hostile and "<script" not in hostile
    assert "<img" not in hostile and "href" not in hostile and "&quot;q&quot;" in hostile
