"""The README's screenshot of the review page (``docs/review.png``).

    python scripts/review_screenshot.py [--out docs/review.png]

Scores the bundled sample transcripts with the shipped model, serves the review page on 127.0.0.1 with a
temporary database, accepts the first flagged turn by keyboard, and photographs the page in Debian's
Chromium (Playwright drives it; nothing is fetched from anywhere else). The PNG is quantised to a palette
to keep it small.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image
from playwright import sync_api

import rupture_detect as rd
from rupture_detect.review.app import Workspace
from rupture_detect.review.queue import from_scores
from rupture_detect.review.server import ReviewServer
from rupture_detect.review.store import Store

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "review.png")
    args = ap.parse_args()
    scores = rd.score(ROOT / "sample_transcripts")
    with tempfile.TemporaryDirectory() as tmp:
        server = ReviewServer(Workspace(Store(Path(tmp) / "review.sqlite"), from_scores(scores, "sample_transcripts")),
                              "supervisor").start()
        try:
            with sync_api.sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
                ctx = browser.new_context(viewport={"width": 1280, "height": 1180}, device_scale_factor=1)
                ctx.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server.base) else r.abort())
                page = ctx.new_page()
                page.goto(server.url)
                page.wait_for_selector(".utt.turn")
                page.keyboard.press("a")
                page.wait_for_selector("#toast:not(:empty)")
                page.wait_for_function("() => !document.querySelector('#detail-h').textContent.includes('turn 6 ')")
                shot = Path(tmp) / "shot.png"
                page.screenshot(path=str(shot))
                browser.close()
        finally:
            server.stop()
        Image.open(shot).convert("RGB").quantize(colors=64).save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size // 1024} kB")


if __name__ == "__main__":
    main()
