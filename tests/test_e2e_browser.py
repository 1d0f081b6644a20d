"""The running app in a real browser: `omnidex serve` on a small index, behind its password, driven by headless
Chromium.

Debian's chromium (/usr/bin/chromium) through Playwright's Python package; Playwright never downloads a
browser. Screenshots of each step land in tests/output/e2e/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from core.config import Settings
from omnidex.service import Omnidex
from tests.conftest import write_pdf

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "output" / "e2e"
CHROMIUM = "/usr/bin/chromium"
# The machine has no network: without these Chromium waits on services it cannot reach.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
INJECTION = "Compost heaps need air. <script>alert('owned')</script> [click me](javascript:alert(1))"
# A file name with Markdown, a link, HTML and a bare domain, holding text with bare links.
HOSTILE_NAME = "**bold** [x](javascript:alert(1)) <img src=x onerror=alert(1)> www.evil.example.pdf"
HOSTILE_TEXT = "Tomatoes ripen in August. Bare links like http://evil.example/steal and www.evil.example stay text."
PASSWORD = "correct horse battery staple"
STARTUP_TIMEOUT_S = 60
STEP_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="apt-get install chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"no health answer from {url} in {STARTUP_TIMEOUT_S} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app serving an index of two PDFs, in its own process (one process owns an embedded store)."""
    root = tmp_path_factory.mktemp("e2e")
    docs = root / "docs"
    write_pdf(docs / "garden.pdf", ["Pruning roses in late winter.", "Tomatoes need staking by midsummer."])
    write_pdf(docs / "notes.pdf", [INJECTION])
    write_pdf(docs / HOSTILE_NAME, [HOSTILE_TEXT])
    app = Omnidex(Settings(data_dir=root / "data"))
    app.ingest([docs])
    app.close()

    port = _free_port()
    env = {**os.environ, "OMNIDEX_DATA_DIR": str(root / "data"), "HF_HUB_OFFLINE": "1",
           "OMNIDEX_UI_PASSWORD": PASSWORD}
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "omnidex.cli", "serve", "--address", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        print(f"server log: {root / 'server.log'}")


def _settled(page: Page) -> None:
    """The script run has finished and nothing on screen is left over from the previous run."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning")
    expect(page.locator("[data-stale='true']")).to_have_count(0)


def test_search_preview_and_cited_answer_in_a_browser(server: str) -> None:
    expect.set_options(timeout=STEP_TIMEOUT_MS)  # the first search waits for the models to load

    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    dialogs: list[str] = []
    requested: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.on("request", lambda request: requested.append(request.url))
        try:
            page.goto(server)
            password = page.get_by_label("Password", exact=True)
            expect(password).to_be_visible()
            expect(page.get_by_placeholder("Ask for a page, a slide, a photo or a moment…")).to_have_count(0)
            password.fill("not it")
            page.get_by_role("button", name="Sign in").click()
            expect(page.get_by_text("That password is not the one this Omnidex was set up with.")).to_be_visible()
            password.fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            started = time.perf_counter()
            box = page.get_by_placeholder("Ask for a page, a slide, a photo or a moment…")
            expect(box).to_be_visible()
            loaded = time.perf_counter()
            box.fill("when should tomatoes be staked")
            box.press("Enter")
            card = page.locator("[class*='st-key-card-']").filter(has_text="garden.pdf").first
            expect(card).to_contain_text("page 2")
            first_search_s = time.perf_counter() - loaded
            print(f"page ready (models loaded) in {loaded - started:.1f} s; first search shown in {first_search_s:.2f} s")
            assert first_search_s < 3.0
            expect(card.locator("strong", has_text="staking")).to_be_visible()  # the highlighted snippet
            _settled(page)
            page.screenshot(path=str(OUTPUT / "1-search.png"), full_page=True)

            card.get_by_role("button", name="Preview").click()
            preview = page.locator(".st-key-preview")
            expect(preview).to_contain_text("Tomatoes need staking by midsummer.")
            rendered = preview.locator("[data-testid='stImage'] img").first
            expect(rendered).to_be_visible()
            assert rendered.evaluate("img => img.naturalWidth") > 500  # the full page, not a thumbnail
            _settled(page)
            page.screenshot(path=str(OUTPUT / "2-preview.png"), full_page=True)

            box.fill("compost heaps need air")
            box.press("Enter")
            notes = page.locator("[class*='st-key-card-']").filter(has_text="notes.pdf").first
            expect(notes.locator("strong", has_text="Compost")).to_be_visible()  # this query's results are in
            expect(notes).to_contain_text("<script>alert('owned')</script> [click me](javascript:alert(1))")
            _settled(page)
            assert page.locator("a[href^='javascript']").count() == 0
            assert page.locator("main script").count() == 0
            page.screenshot(path=str(OUTPUT / "3-document-text-as-text.png"), full_page=True)

            box.fill("when do tomatoes ripen")
            box.press("Enter")
            hostile = page.locator("[class*='st-key-card-']").filter(has_text="www.evil.example.pdf").first
            expect(hostile.locator("strong", has_text="ripen")).to_be_visible()
            _settled(page)
            expect(hostile).to_contain_text(HOSTILE_NAME)  # every character of the name, as written
            expect(hostile).to_contain_text("http://evil.example/steal and www.evil.example stay text.")
            links_or_pictures = "main a[href*='evil.example'], main a[href^='javascript'], main img[src='x']"
            assert page.locator(links_or_pictures).count() == 0
            page.screenshot(path=str(OUTPUT / "3b-hostile-name-as-text.png"), full_page=True)

            page.get_by_role("link", name="Ask").click()
            question = page.get_by_placeholder("What did the quarterly review say about churn?")
            question.fill("When do tomatoes need staking?")
            question.press("Enter")
            citation = page.get_by_role("button", name="[1] garden.pdf · page 2", exact=True)
            expect(citation).to_be_visible()
            expect(page.locator("main")).to_contain_text("[1]")
            citation.click()
            expect(page.locator(".st-key-preview [data-testid='stImage'] img").first).to_be_visible()
            _settled(page)
            page.screenshot(path=str(OUTPUT / "4-answer.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(OUTPUT / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
    assert not dialogs, f"document text ran as script: {dialogs}"
    outside = [url for url in requested if not url.startswith((server, "data:", "blob:"))]
    assert not outside, f"the page reached outside this machine: {outside}"
    assert any("/media/" in url for url in requested)  # the page icon and pictures, served by Omnidex itself
    print(f"screenshots: {OUTPUT}")


def _open_signed_in(page: Page, url: str) -> None:
    """A link opened in a new tab: a new session, so the password first, then the page the link names."""
    page.goto(url)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    _settled(page)


def test_links_open_their_pages_and_back_returns_to_the_previous_search(server: str) -> None:
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    cards = "[class*='st-key-card-']"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        box = page.get_by_placeholder("Ask for a page, a slide, a photo or a moment…")
        try:
            _open_signed_in(page, f"{server}/search?q=when+should+tomatoes+be+staked")
            garden = page.locator(cards).filter(has_text="garden.pdf").first
            expect(garden.locator("strong", has_text="staking")).to_be_visible()
            expect(box).to_have_value("when should tomatoes be staked")
            expect(page.get_by_text("Page not found")).to_have_count(0)
            page.screenshot(path=str(OUTPUT / "5-search-link.png"), full_page=True)

            box.fill("compost heaps need air")
            box.press("Enter")
            notes = page.locator(cards).filter(has_text="notes.pdf").first
            expect(notes.locator("strong", has_text="Compost")).to_be_visible()
            expect(page).to_have_url(f"{server}/search?q=compost+heaps+need+air")  # a new entry in the history

            page.go_back()
            expect(page).to_have_url(f"{server}/search?q=when+should+tomatoes+be+staked")
            expect(box).to_have_value("when should tomatoes be staked")
            expect(garden.locator("strong", has_text="staking")).to_be_visible()
            _settled(page)
            expect(page.locator(cards).locator("strong", has_text="Compost")).to_have_count(0)  # not the later search's
            page.screenshot(path=str(OUTPUT / "6-back.png"), full_page=True)

            _open_signed_in(page, f"{server}/search")
            expect(box).to_have_value("")
            expect(page.get_by_text("segments from 3 files indexed")).to_be_visible()  # the empty search page
            expect(page.get_by_text("Page not found")).to_have_count(0)

            _open_signed_in(page, f"{server}/library")
            expect(page.get_by_role("heading", name="Library")).to_be_visible()
            _open_signed_in(page, f"{server}/ask")
            expect(page.get_by_placeholder("What did the quarterly review say about churn?")).to_be_visible()
            expect(page.get_by_text("Page not found")).to_have_count(0)
        except Exception:
            page.screenshot(path=str(OUTPUT / "links-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
