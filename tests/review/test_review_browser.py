"""The review page in headless Chromium (Debian's, driven by Playwright), against a real server on 127.0.0.1.

Every request the page makes is recorded; any that does not go to the review server is aborted, and none may
happen. Console errors (a Content-Security-Policy violation shows there) fail the tests too.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright import sync_api
from review_support import workspace
from test_browser import ARGS, CHROMIUM
from test_report import write_outdir

from rupture_detect.review.server import ReviewServer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        reason = "Debian's chromium is needed for the browser tests: apt-get install chromium (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def review(browser, tmp_path):
    outdir, db = write_outdir(tmp_path / "out"), tmp_path / "review.sqlite"
    server = ReviewServer(workspace(outdir, db), "alice").start()
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    requests, outside, errors = [], [], []

    def route(r):
        if r.request.url.startswith(f"{server.base}/"):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()
    ctx.route("**/*", route)
    page = ctx.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    view = SimpleNamespace(page=page, server=server, db=db, outdir=outdir, requests=requests, outside=outside,
                           errors=errors)
    yield view
    ctx.close()
    server.stop()


def opened(view):
    view.page.goto(view.server.url)
    view.page.wait_for_selector(".utt.turn")
    return view.page


def decisions(db):
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT session_id, turn, action, marker, subtype, dimension, undoes FROM decisions "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def heading(page, text):
    sync_api.expect(page.locator("#detail-h")).to_have_text(text)


def assert_local_only(view, errors=()):
    assert view.outside == [] and view.errors == list(errors)
    assert view.requests and all(u.startswith(f"{view.server.base}/") for u in view.requests)


def test_a_keyboard_review_accept_relabel_missed_undo_and_export(review):
    page = opened(review)
    assert page.url == f"{review.server.base}/"                      # the token is gone from the address bar
    heading(page, "Session s1 · turn 2 · 0:14")
    assert "You’re the expert" in page.locator(".utt.turn mark").all_inner_texts()

    page.keyboard.press("a")
    heading(page, "Session s1 · turn 4 · 0:30")                       # on to the next open turn
    assert decisions(review.db) == [("s1", "2", "accept", "withdrawal", "deferential_appeasing", "bond", None)]

    page.keyboard.press("e")
    sync_api.expect(page.locator("#label-form")).to_be_visible()
    page.select_option("#l-family", "withdrawal")
    page.select_option("#l-subtype", "denial")
    assert page.input_value("#l-dimension") == "bond"                 # the subtype's usual strain
    page.keyboard.press("Enter")
    heading(page, "Session s1 · turn 8 · 1:01")
    assert decisions(review.db)[-1] == ("s1", "4", "relabel", "withdrawal", "denial", "bond", None)

    page.keyboard.press("b")                                          # browse the session for a missed marker
    sync_api.expect(page.locator("#browse-h")).to_have_text("Session s1")
    page.keyboard.press("k")                                          # the client turn before: turn 6, not flagged
    sync_api.expect(page.locator(".b-turn[aria-current]")).to_contain_text("I could try that on the bus")
    page.keyboard.press("x")
    sync_api.expect(page.locator("#label-h")).to_have_text("Missed marker on session s1 turn 6")
    page.select_option("#l-subtype", "minimal_response")
    page.keyboard.press("Enter")
    sync_api.expect(page.locator(".b-turn[aria-current] .tag.mine")).to_contain_text("missed")
    missed = decisions(review.db)[-1]
    assert missed == ("s1", "6", "missed", "withdrawal", "minimal_response", "task", None)
    sync_api.expect(page.locator("#p-missed")).to_have_text("1")

    page.keyboard.press("Escape")
    sync_api.expect(page.locator("#browse")).to_be_hidden()
    page.keyboard.press("u")
    sync_api.expect(page.locator("#toast")).to_contain_text("Undid missed on session s1 turn 6")
    assert decisions(review.db)[-1][2] == "undo" and len(decisions(review.db)) == 4
    sync_api.expect(page.locator("#p-missed")).to_have_text("0")
    sync_api.expect(page.locator("#p-done")).to_have_text("2")
    sync_api.expect(page.locator("#p-left")).to_have_text("3")

    with page.expect_download() as download:
        page.click("#export")
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    coded = [(r["turn"], r["decision"], r["marker"], r["subtype"]) for r in table if r["decision"]]
    assert coded == [("2", "accept", "withdrawal", "deferential_appeasing"), ("4", "relabel", "withdrawal", "denial")]
    assert_local_only(review)


def test_memo_skip_filters_and_the_uncertainty_order(review):
    page = opened(review)
    page.keyboard.press("m")
    page.keyboard.type("check the tone on the recording")
    page.keyboard.press("Control+Enter")
    sync_api.expect(page.locator("#toast")).to_contain_text("Memo saved on session s1 turn 2")
    page.keyboard.press("Escape")                                     # leave the memo field
    page.keyboard.press("s")
    heading(page, "Session s1 · turn 4 · 0:30")
    assert decisions(review.db) == [("s1", "2", "memo", "", "", "", None), ("s1", "2", "skip", "", "", "", None)]
    sync_api.expect(page.locator("#p-skipped")).to_have_text("1")

    page.select_option("#f-sort", "uncertainty")                      # P(marker) nearest the threshold first
    heading(page, "Session s2 · turn 4")
    assert page.locator("#queue-list .q-where").all_inner_texts() == [
        "s2 · turn 4", "s1 · turn 8", "s2 · turn 2", "s1 · turn 4", "s1 · turn 2"]
    page.select_option("#f-family", "confrontation")
    sync_api.expect(page.locator("#queue-list .q-where")).to_have_text(["s1 · turn 8", "s1 · turn 4"])
    page.select_option("#f-family", "")
    page.select_option("#f-status", "skipped")
    sync_api.expect(page.locator("#queue-list .q-where")).to_have_text(["s1 · turn 2"])
    page.fill("#f-min", "0.9")
    page.dispatch_event("#f-min", "change")
    sync_api.expect(page.locator("#queue-count")).to_have_text("(0)")

    page.keyboard.press("Escape")                                     # out of the confidence field
    page.keyboard.press("/")
    page.keyboard.type("bus")
    sync_api.expect(page.locator("#search-list button")).to_have_count(1)
    page.keyboard.press("Enter")
    sync_api.expect(page.locator(".b-turn[aria-current]")).to_contain_text("on the bus")
    assert_local_only(review)


def test_a_decision_on_changed_text_is_refused_in_the_page(review):
    page = opened(review)
    path = review.outdir / "utterances.csv"
    path.write_text(path.read_text("utf-8").replace("You’re the expert, whatever you think.", "I see what you mean."),
                    encoding="utf-8")
    page.keyboard.press("a")
    sync_api.expect(page.locator("#toast")).to_contain_text("Not recorded: the text of session s1 turn 2 changed")
    assert decisions(review.db) == []
    sync_api.expect(page.locator(".utt.turn .text")).to_have_text("Fine. I didn't really do it. I see what you mean.")
    page.keyboard.press("a")                                          # decided again on the text now shown
    heading(page, "Session s1 · turn 4 · 0:30")
    assert decisions(review.db)[0][:3] == ("s1", "2", "accept")
    assert_local_only(review, ["Failed to load resource: the server responded with a status of 409 (CONFLICT)"])


def test_the_page_without_its_token_is_refused(review):
    response = review.page.goto(f"{review.server.base}/")
    assert response.status == 403
    assert "access token" in review.page.inner_text("body")
    assert review.page.locator("script").count() == 0
    assert review.outside == []


def test_the_page_policy_stops_requests_to_anywhere_else(review):
    page = opened(review)
    page.evaluate("fetch('http://example.invalid/probe').catch(() => 0)")
    page.evaluate("() => { const i = new Image(); i.src = 'https://example.invalid/p.png'; document.body.append(i); }")
    page.wait_for_timeout(500)
    assert review.outside == []                     # refused by the Content-Security-Policy before leaving the page
    blocked = " ".join(e for e in review.errors if "Content Security Policy" in e)
    assert "connect-src" in blocked and "img-src" in blocked, review.errors


def test_keys_pressed_in_quick_succession_act_on_successive_turns(review):
    page = opened(review)
    for key in ("a", "a", "r"):
        page.keyboard.press(key)
    heading(page, "Session s2 · turn 2")
    assert [d[:3] for d in decisions(review.db)] == [("s1", "2", "accept"), ("s1", "4", "accept"),
                                                     ("s1", "8", "reject")]
    assert_local_only(review)
