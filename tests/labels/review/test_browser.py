"""The review page in a real browser (Playwright driving Debian's Chromium): open it with the token, play a
clip, decide with the keyboard, undo, search a label, reload, and read reviewed.csv; no token, no page.

Run alone with ``python -m pytest tests/labels/review/test_browser.py``; it skips, naming what is missing,
without ``/usr/bin/chromium`` (``apt-get install chromium``) or the ``playwright`` package."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from soundtag.data.reviewed import final_decisions, read_decisions
from tests.labels.review.conftest import TOKEN, review_session

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"needs Debian's chromium browser at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install playwright)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
def server(tone_corpus, tmp_path):
    """The real server (uvicorn, in a thread) on a free port; yields its address and the review folder."""
    import uvicorn

    from soundtag.labels.review.server import create_app

    review_dir = tmp_path / "review"
    app = create_app(review_session(tone_corpus, review_dir), TOKEN)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    running = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=running.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", review_dir
    running.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


def current(page) -> str:
    return page.text_content("#clip-name")


def test_a_person_reviews_clips_with_the_keyboard_and_the_decisions_survive_a_reload(server, browser):
    base, review_dir = server
    page = browser.new_page(bypass_csp=True)  # the page's CSP forbids eval, which wait_for_function uses
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{base}/?token={TOKEN}")
    assert page.url == f"{base}/"  # the token left the address bar; the cookie carries it
    page.wait_for_selector("#clip-list li.current")
    first = current(page)
    page.evaluate("document.querySelector('#player audio').play()")
    page.wait_for_function("document.querySelector('#player audio').currentTime > 0.05", timeout=10000)
    page.wait_for_function("document.getElementById('picture').naturalWidth > 0", timeout=20000)
    assert sum("/audio/" in url for url in requested) >= 2  # the next clip's audio is fetched ahead
    assert sum("/picture/" in url for url in requested) >= 2

    page.keyboard.press("Enter")  # accept the given label of the first clip
    second = current(page)
    assert second != first
    suggestion = page.text_content("#suggestions li:nth-child(2) .label")
    page.keyboard.press("2")  # the second suggestion
    third = current(page)
    page.keyboard.press("n")  # none of the classes
    page.keyboard.press("u")  # ... undone: back on the third clip
    page.wait_for_function(f"document.getElementById('clip-name').textContent === {third!r}")
    page.keyboard.press("s")  # skip it instead
    fourth = current(page)
    page.keyboard.press("/")
    page.keyboard.type("flu")
    page.keyboard.press("Enter")  # relabel the fourth clip as Flute, found by typing
    page.wait_for_function("document.getElementById('progress').textContent.startsWith('3 of 9')")

    decided = final_decisions(read_decisions(review_dir / "reviewed.csv"))
    assert decided[first].decision == "accept"
    assert decided[second].label == suggestion
    assert decided[third].decision == "skip"
    assert decided[fourth].label == "Flute"
    assert [row.decision for row in read_decisions(review_dir / "reviewed.csv")].count("undo") == 1

    page.reload()  # the cookie still opens the page; the reviewed clips have left the pending list
    page.wait_for_selector("#clip-list li.current")
    assert page.text_content("#progress").startswith("3 of 9 unverified clips reviewed")
    pending = page.eval_on_selector_all("#clip-list li", "items => items.map(i => i.textContent)")
    assert len(pending) == 5

    stranger = browser.new_page()  # no token, no cookie
    assert stranger.goto(f"{base}/").status == 403
    assert stranger.request.get(f"{base}/api/state").status == 403
    assert page.request.get(f"{base}/audio/../train.csv").status in (403, 404)
