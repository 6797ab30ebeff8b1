"""The suite's own rules: on CI a browser test that would skip fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"
A_BROWSER_TEST = """
import pytest

@pytest.mark.browser
@pytest.mark.skipif(True, reason="no chromium here")
def test_page():
    pass
"""


# A skip decided at setup (skipif) turns into an error of that phase: the run fails either way.
@pytest.mark.parametrize(("ci", "errors", "skipped"), [("true", 1, 0), ("", 0, 1)])
def test_a_skipped_browser_test_fails_only_on_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, errors: int, skipped: int
) -> None:
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    browser: drives headless Chromium\n")
    pytester.makepyfile(A_BROWSER_TEST)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=errors, skipped=skipped)
    assert (result.ret != 0) == bool(errors)
