"""Render ``review_reader.png`` and ``review_results.png``: the reader study in Chromium.

Two synthmed chest X-ray datasets stand in for the real and the synthetic set (the project
ships no real images). Three readers answer 8 images each by keyboard, with answers drawn
at random (seeded); the reader page is shot at the third image of reader 1, the owner's
results page at the end.

Run from the repository root (needs Debian's chromium and the review extra)::

    synthmed generate examples/specs/chest_xray.yaml -o /tmp/a --seed 1 -q
    synthmed generate examples/specs/chest_xray.yaml -o /tmp/b --seed 2 -q
    .venv/bin/python docs/gallery/make_review_screenshots.py /tmp/a /tmp/b
"""

import argparse
import random
import shutil
import socket
import tempfile
import threading
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright

from synthmed.review.app import create_app
from synthmed.review.study import create_study

OUT = Path(__file__).parent
READERS, ITEMS = 3, 8


def serve(study: Path) -> tuple[str, uvicorn.Server]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(study), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        threading.Event().wait(0.05)
    return f"http://127.0.0.1:{port}", server


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("real", type=Path)
    ap.add_argument("synthetic", type=Path)
    args = ap.parse_args()
    study = Path(tempfile.mkdtemp()) / "study"
    links = create_study(args.real, args.synthetic, study, readers=READERS,
                         per_reader=ITEMS, task="both", size=512)
    root, server = serve(study)
    rng = random.Random(0)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        for r, link in enumerate(links.readers):
            page.goto(root + link)
            for k in range(ITEMS):
                expect(page.locator("#progress")).to_have_text(f"{k} of {ITEMS} answered")
                if r == 0 and k == 2:
                    page.screenshot(path=str(OUT / "review_reader.png"))
                page.keyboard.press(rng.choice("RS"))
                page.keyboard.press(str(rng.randint(1, 5)))
                page.select_option("#grade", str(rng.randint(0, 2)))
                page.keyboard.press("Enter")
        page.goto(root + links.owner)
        page.screenshot(path=str(OUT / "review_results.png"), full_page=False)
        browser.close()
    server.should_exit = True
    print(f"wrote {OUT / 'review_reader.png'} and {OUT / 'review_results.png'}")


if __name__ == "__main__":
    main()
