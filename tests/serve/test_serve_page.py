"""The page at / in a real browser: headless Chromium types a Korean question, reads the cited articles, and
saves a screenshot (its path is printed; `pytest -s -k page` shows it). Skipped where Chromium cannot start.

Needs the distribution's `chromium` and, for Hangul in the screenshot, `fonts-nanum` (Debian/Ubuntu packages).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from tests.serve.cdp_client import chromium, find_browser

httpx = pytest.importorskip("httpx")

QUESTION = "불법행위로 인한 손해배상 책임은 언제 생기나요?"
ROWS = """JSON.stringify([...document.querySelectorAll('#contexts tbody tr')].map(tr => ({
  id: tr.dataset.id, law: tr.querySelector('.law').textContent, article: tr.querySelector('.article').textContent,
  text: tr.querySelector('.text').textContent, score: Number(tr.querySelector('.score').textContent)})))"""


def test_the_page_answers_a_korean_question_in_headless_chromium(server, tmp_path):
    import json

    browser = find_browser()
    if browser is None:
        pytest.skip("no Chromium (apt-get install chromium fonts-nanum)")
    shots = Path(os.environ.get("LEX_DPR_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    try:
        session = chromium(browser, tmp_path / "profile")
        page = session.__enter__()
    except RuntimeError as exc:
        pytest.skip(f"Chromium cannot start here: {' '.join(str(exc).split())[:300]}")
    try:
        page.call("Emulation.setDeviceMetricsOverride", width=1200, height=1500, deviceScaleFactor=1, mobile=False)
        page.call("Page.navigate", url=server.url + "/")
        page.wait_for("document.readyState === 'complete' && !!document.getElementById('question')")
        assert page.js("document.title").startswith("lex-dpr")
        page.js("document.getElementById('question').focus()")
        page.call("Input.insertText", text=QUESTION)  # typed, as a keyboard's IME would commit it
        page.js("(() => { const s = document.getElementById('mode'); s.value = 'rrf';"
                " s.dispatchEvent(new Event('change')); })()")
        assert page.js("document.getElementById('weight').disabled") is True  # the weight is for weighted only
        page.click("#submit")
        page.wait_for("!document.getElementById('result').hidden && "
                      "document.querySelectorAll('#contexts tbody tr').length > 0")
        rows = json.loads(page.js(ROWS))
        answer = page.js("document.getElementById('answer').textContent")
        retrieval = page.js("document.getElementById('retrieval').textContent")
        png = base64.b64decode(page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
    finally:
        session.__exit__(None, None, None)
    shot = shots / "serve_page.png"
    shot.write_bytes(png)
    print(f"screenshot: {shot}")
    api = httpx.post(server.url + "/answer", json={"question": QUESTION, "k": 6, "retrieval": "rrf"}, timeout=30).json()
    assert [r["id"] for r in rows] == [c["id"] for c in api["contexts"]]
    assert [(r["law"], r["article"], r["text"]) for r in rows] == [(c["title"], c["article"], c["text"])
                                                                 for c in api["contexts"]]
    assert [r["score"] for r in rows] == pytest.approx([c["score"] for c in api["contexts"]], abs=1e-4)
    assert answer == api["answer"] and "rrf" in retrieval
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
