"""One real browser test: `streamlit run app.py` driven by Debian's chromium through Playwright.

Needs /usr/bin/chromium (`apt-get install -y chromium`) and the playwright package
(`pip install -e .[test]`); never `playwright install`, which downloads a browser.
The reviewer types a name, opens the queue, writes a note with the N key and
confirms the item with the A key; the decision must then be in the log on disk.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

CHROMIUM = Path("/usr/bin/chromium")
RESULTS = FIXTURES / "review_results.jsonl"
NOTE = "Saw a box; zero extras, maybe"

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="chromium not found at /usr/bin/chromium "
                              "(install it with `apt-get install -y chromium`)"),
    pytest.mark.skipif(shutil.which("streamlit", path=str(Path(sys.executable).parent)) is None,
                       reason="streamlit executable not found next to the interpreter"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    log = tmp_path / "decisions.jsonl"
    cmd = [str(Path(sys.executable).parent / "streamlit"), "run", str(ROOT / "app.py"),
           "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--",
           str(RESULTS), "--log", str(log), "--cache", str(tmp_path / "cache")]
    out = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, "HOME": str(tmp_path)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("streamlit did not start:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.3)
        yield url, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        out.close()


def test_confirm_an_item_with_the_keyboard(server, tmp_path):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright not installed (pip install -e .[test])")
    url, log = server
    with sync_api.sync_playwright() as pw:
        home = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "XDG_CACHE_HOME": str(tmp_path / "cache")}   # chromium writes there, not in ~
        browser = pw.chromium.launch(executable_path=str(CHROMIUM),
                                     args=["--no-sandbox", "--disable-gpu"],
                                     env={**os.environ, **home})
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            name = page.get_by_label("Your name (recorded with every decision)")
            name.fill("Browser Reviewer")
            name.press("Enter")                                   # submits the form
            queue = page.get_by_role("heading", name="Review queue")
            queue.wait_for(timeout=30_000)
            queue.click()                                          # focus off the inputs
            page.get_by_role("button", name="Start reviewing").wait_for(timeout=30_000)
            page.keyboard.press("g")                               # Start reviewing
            confirm = page.get_by_role("button", name="Confirm")
            confirm.wait_for(timeout=30_000)
            heading = page.get_by_role("heading", level=1).first.inner_text()
            label = heading.split(":")[0].strip()
            doc_id = page.locator("table.ss-facts tr", has_text="document id") \
                .inner_text().split()[-1]
            page.keyboard.press("n")                               # N: into the note field
            page.keyboard.type(NOTE)                               # A, X, S, Z typed, not keys
            page.keyboard.press("Escape")                          # leave the field
            page.wait_for_timeout(500)
            page.keyboard.press("a")                               # A: confirm
            page.get_by_text("Saved (").wait_for(timeout=30_000)
        finally:
            browser.close()
    [decision] = [json.loads(x) for x in log.read_text().splitlines()]
    assert (decision["doc_id"], decision["label"], decision["answer"], decision["reviewer"],
            decision["kind"], decision["note"]) == \
        (doc_id, label, "accept", "Browser Reviewer", "label", NOTE)
