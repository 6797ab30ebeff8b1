"""The docs' picture of the playground: ``python -m bot.local.playground.screenshot [docs/playground.png]``.

Runs a throwaway playground (a temporary LIFEBOAT_HOME with a quickly trained model), asks the bot a
question, shares the answer, opens the form with a wrong age, and puts the channel and the dialog side
by side in one PNG. Needs the dev extras (Playwright) and Debian's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import base64
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bot.local import serve_asgi_in_thread
from bot.local.playground.server import create_playground
from ml.config import MLSettings

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

CHANNEL_SIZE: ViewportSize = {"width": 1060, "height": 800}

_COMPOSE = """<!doctype html><meta charset="utf-8"><style>
body {{ margin: 0; background: #f4ede4; display: flex; gap: 28px; padding: 24px; align-items: flex-start;
  width: max-content; }}
img {{ display: block; border-radius: 10px; box-shadow: 0 8px 28px rgba(0, 0, 0, .25); }}
</style><img src="data:image/png;base64,{channel}"><img src="data:image/png;base64,{dialog}">"""


def take(path: Path) -> Path:
    """Write the screenshot to ``path``; returns it."""
    from playwright.sync_api import expect, sync_playwright

    from ml.core.training import TrainConfig
    from ml.io.local_registry import LocalRegistry
    from ml.jobs.train import train_and_register

    with tempfile.TemporaryDirectory(prefix="lifeboat-shot-") as tmp:
        home = Path(tmp) / "home"
        registry = LocalRegistry(home)
        config = TrainConfig(cv_folds=2)  # less cross-validation; the served model is the default recipe's
        train_and_register(registry, actor="docs", comment="screenshot model", config=config)
        registry.close()
        pg = create_playground(MLSettings(home=home), say=lambda _: None)
        try:
            with serve_asgi_in_thread(pg.app) as url, sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport=CHANNEL_SIZE)
                page.goto(f"{url}/")
                expect(page.locator("body[data-ready]")).to_have_count(1)

                def send(text: str) -> None:
                    page.locator("#box").fill(text)
                    page.locator("#box").press("Enter")

                send("/survive 1st class woman, 29, with my husband")
                answer = page.locator(".msg--bot.msg--ephemeral").filter(has_text="chance of survival")
                answer.get_by_role("button", name="Share in channel").click()
                expect(page.locator(".msg--bot:not(.msg--ephemeral)")).to_have_count(1)
                page.locator(".messages").evaluate("el => el.scrollTop = 0")
                channel = page.screenshot()

                send("/survive")
                dialog = page.get_by_role("dialog")
                page.locator("[data-block-id='pclass'] select").select_option("3")
                page.locator("[data-block-id='sex']").get_by_label("Male", exact=True).check()
                page.locator("[data-block-id='age'] input").fill("150")
                dialog.get_by_role("button", name="Tell me").click()
                expect(page.locator("[data-block-id='age'] .input-error")).to_be_visible()
                page.set_viewport_size({"width": 700, "height": 1000})  # the whole dialog, no scrolling
                page.locator(".modal-body").evaluate("el => el.scrollTop = 0")
                shot = dialog.screenshot()

                composer = browser.new_page(viewport={"width": 800, "height": 600})
                composer.set_content(
                    _COMPOSE.format(
                        channel=base64.b64encode(channel).decode(), dialog=base64.b64encode(shot).decode()
                    )
                )
                composer.wait_for_load_state()
                path.parent.mkdir(parents=True, exist_ok=True)
                composer.screenshot(path=str(path), full_page=True)
                browser.close()
        finally:
            pg.close()
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/playground.png")
    print(f"wrote {take(target)} ({target.stat().st_size // 1024} KB)")
