"""A reader completes a study in headless Chromium (by keyboard, reloading midway); the
owner's page then shows the statistics of the scripted answers."""

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from synthmed.review.stats import proportion
from synthmed.review.study import study_links

CHROMIUM = shutil.which("chromium")
# SYNTHMED_SCREENSHOTS=docs/gallery saves review_reader.png and review_results.png there
SHOTS = os.environ.get("SYNTHMED_SCREENSHOTS")
GALLERY = Path(SHOTS) if SHOTS else None
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Debian chromium not installed (make test installs it)")


def test_reader_completes_resumes_and_owner_sees_the_statistics(study, server):
    sync_api = pytest.importorskip("playwright.sync_api")
    links = study_links(study)
    con = sqlite3.connect(study / "study.sqlite")
    plan = con.execute("SELECT s.item_id, i.origin FROM assignments s JOIN items i ON "
                       "i.id = s.item_id WHERE s.reader_id = 1 ORDER BY s.position").fetchall()
    # scripted: right on the first six items, wrong on the last two
    calls = [o if k < 6 else {"real": "synthetic", "synthetic": "real"}[o]
             for k, (_, o) in enumerate(plan)]
    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + links.readers[0])
        for k, ((item, _), call) in enumerate(zip(plan, calls)):
            if k == 4:
                page.reload()
            sync_api.expect(page.locator("#progress")).to_have_text(f"{k} of 8 answered")
            assert page.get_attribute("#image", "src").endswith("/" + item)  # resumes here
            if k == 0:
                page.keyboard.press("Enter")  # nothing chosen yet: asks, saves nothing
                sync_api.expect(page.locator("#message")).to_contain_text("Choose")
            page.keyboard.press("R" if call == "real" else "S")
            page.keyboard.press(str(k % 5 + 1))
            if k == 3:
                page.fill("#comment", "edges look too smooth")
                page.locator("#submit").click()
            else:
                page.keyboard.press("Enter")
            if k == 2 and GALLERY:
                page.screenshot(path=str(GALLERY / "review_reader.png"))
        sync_api.expect(page.locator("#done")).to_be_visible()
        sync_api.expect(page.locator("#progress")).to_have_text("8 of 8 answered")
        page.goto(server + links.owner)
        row = page.locator("#scores tbody tr").first.inner_text().split("\t")
        if GALLERY:
            page.screenshot(path=str(GALLERY / "review_results.png"), full_page=True)
        answers_text = page.inner_text("#answers")
        plots = [page.locator(f"#{name}-plot").evaluate(  # loaded and drawn despite the CSP
            "img => img.decode().then(() => img.naturalWidth)") for name in ("accuracy", "roc")]
        browser.close()
    acc = proportion(6, 8)
    assert row[:3] == ["reader 1", "8", f"{acc['value']:.3f} ({acc['ci_low']:.3f}–{acc['ci_high']:.3f})"]
    truth = [o for _, o in plan]
    sens = sum(c == t == "synthetic" for c, t in zip(calls, truth)) / truth.count("synthetic")
    assert row[4].startswith(f"{sens:.3f} (")
    assert "edges look too smooth" in answers_text
    assert all(width > 100 for width in plots)
    stored = con.execute("SELECT item_id, call, confidence FROM answers WHERE reader_id = 1 "
                         "ORDER BY answered_at").fetchall()
    assert stored == [(item, call, k % 5 + 1) for k, ((item, _), call) in enumerate(zip(plan, calls))]
    assert not errors
