"""The real pages in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Every page is opened from file:// with all other requests routed to abort and
recorded: none may happen. Console errors fail the test too (a blocked
request would show there as a Content-Security-Policy violation).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright import sync_api
from test_report import FLAGGED, write_outdir

from rupture_detect.pages.report import read_outdir, render_report, tables_from_scores, write_page
from rupture_detect.pages.study import render_study

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
REFS_JS = """() => Array.from(document.querySelectorAll('[src], [href], [*|href]')).map(e =>
    e.getAttribute('src') || e.getAttribute('href') || e.getAttributeNS('http://www.w3.org/1999/xlink', 'href'))"""
VISIBLE_JS = """() => Array.from(document.querySelectorAll('.exchange')).filter(e => !e.hidden)
    .map(e => [e.dataset.family, e.dataset.subtype, e.dataset.dimension, +e.dataset.confidence])"""


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
def open_page(browser):
    contexts = []

    def _open(path: Path):
        ctx = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(ctx)
        external, errors = [], []

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                external.append(r.request.url)
                r.abort()
        ctx.route("**/*", route)
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        return SimpleNamespace(page=page, ctx=ctx, external=external, errors=errors)
    yield _open
    for ctx in contexts:
        ctx.close()


@pytest.fixture
def report_page(tmp_path, open_page):
    out = write_page(render_report(read_outdir(write_outdir(tmp_path / "out"))), tmp_path / "report.html")
    return open_page(out)


def assert_offline(view):
    assert all(ref.startswith("#") for ref in view.page.evaluate(REFS_JS))
    assert view.external == [] and view.errors == []


def test_the_network_guard_works(open_page, tmp_path):
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><title>x</title>", encoding="utf-8")
    view = open_page(blank)
    view.page.evaluate("fetch('http://example.invalid/probe').catch(() => 0)")
    view.page.wait_for_timeout(300)
    assert view.external == ["http://example.invalid/probe"]


def test_flagged_exchanges_render(report_page):
    page = report_page.page
    assert page.locator(".exchange").count() == len(FLAGGED)
    assert len(page.evaluate(VISIBLE_JS)) == len(FLAGGED)
    assert page.locator("#status").inner_text() == f"Showing {len(FLAGGED)} of {len(FLAGGED)} flagged exchanges"
    first = page.locator(".exchange").first
    assert first.locator("mark").first.is_visible()
    assert "You’re the expert" in first.locator("mark").all_inner_texts()
    assert page.locator("#s-1 figure svg[role=img]").is_visible()          # the inlined chart
    assert page.locator("#s-2 svg.timeline").is_visible()                   # the drawn fallback
    assert page.locator("h1").count() == 1 and page.locator("h2[id^=s-]").count() == 2
    assert_offline(report_page)


def test_filters_hide_and_show_the_right_exchanges(report_page):
    page = report_page.page
    page.locator('input[name=family][value=confrontation]').uncheck()
    shown = page.evaluate(VISIBLE_JS)
    assert len(shown) == 3 and {f for f, *_ in shown} == {"withdrawal"}
    assert page.locator("#status").inner_text() == "Showing 3 of 5 flagged exchanges"
    page.locator('input[name=family][value=confrontation]').check()

    page.select_option("#f-subtype", "minimal_response")
    assert [s for _, s, *_ in page.evaluate(VISIBLE_JS)] == ["minimal_response"]
    assert page.locator("#s-1 .none-shown").is_visible() and not page.locator("#s-2 .none-shown").is_visible()
    assert page.locator("#s-1 .ex-count").inner_text() == "(0 of 3 shown)"
    page.select_option("#f-subtype", "")

    page.select_option("#f-dimension", "bond")
    assert sorted(s for _, s, *_ in page.evaluate(VISIBLE_JS)) == ["control_pressure", "deferential_appeasing"]
    page.select_option("#f-dimension", "")

    page.locator("#f-conf").fill("60")
    assert page.locator("#f-conf-out").inner_text() == "60%"
    assert sorted(c for *_, c in page.evaluate(VISIBLE_JS)) == [0.82, 0.88]
    page.locator("#f-reset").click()
    assert len(page.evaluate(VISIBLE_JS)) == 5


def test_sorting_by_confidence_and_back_to_time(report_page):
    page = report_page.page
    order = "() => Array.from(document.querySelectorAll('#s-1 .exchange')).map(e => +e.dataset.confidence)"
    assert page.evaluate(order) == [0.82, 0.88, 0.35]
    page.select_option("#f-sort", "confidence")
    assert page.evaluate(order) == [0.88, 0.82, 0.35]
    page.select_option("#f-sort", "time")
    assert page.evaluate(order) == [0.82, 0.88, 0.35]


def test_keyboard_moves_focus_between_visible_exchanges(report_page):
    page = report_page.page
    ids = page.evaluate("() => Array.from(document.querySelectorAll('.exchange')).map(e => e.id)")
    active = "() => document.activeElement.id"
    page.keyboard.press("j")
    assert page.evaluate(active) == ids[0]
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"                                               # a visible focus
    page.keyboard.press("j")
    assert page.evaluate(active) == ids[1]
    page.keyboard.press("k")
    assert page.evaluate(active) == ids[0]
    page.keyboard.press("ArrowDown")
    assert page.evaluate(active) == ids[1]
    assert page.locator(f"#{ids[1]}").get_attribute("class").endswith("current")

    page.locator('input[name=family][value=withdrawal]').uncheck()          # 2 confrontation exchanges left
    page.keyboard.press("j")                                                # typing in a control: ignored
    assert page.evaluate(active) != ids[2]
    page.locator("h1").click()
    visited = []
    for _ in range(3):
        page.keyboard.press("j")
        visited.append(page.evaluate(active))
    families = page.evaluate("(ids) => ids.map(i => document.getElementById(i).dataset.family)", visited)
    assert set(families) == {"confrontation"} and visited[-1] == visited[-2]    # stops at the last


def test_print_layout_hides_controls_and_expands_everything(report_page):
    page = report_page.page
    page.locator("#f-compact").check()
    assert not page.locator("#s-1 .exchange .turn.before").first.is_visible()
    page.emulate_media(media="print")
    assert not page.locator(".controls").is_visible()
    assert page.locator("#s-1 .exchange .turn.before").first.is_visible()
    assert page.evaluate("() => getComputedStyle(document.getElementById('s-2')).breakBefore") == "page"
    assert page.locator("#print-filters").is_visible()


def test_report_of_a_scored_sample(open_page, tmp_path, samples):
    import rupture_detect
    scores = rupture_detect.score(samples / "cbt_homework.txt", model=None)
    out = write_page(render_report(tables_from_scores(scores)), tmp_path / "sample.html")
    view = open_page(out)
    assert view.page.locator(".exchange").count() == len(scores.flagged())
    assert_offline(view)


def test_study_page_quiz_scores_right_and_wrong_answers(open_page, tmp_path):
    out = write_page(render_study(per_marker=1, seed=2, n_quiz=3), tmp_path / "study.html")
    view = open_page(out)
    page = view.page
    assert page.locator("section.marker").count() == 14
    score = page.locator("#quiz-score")
    assert score.inner_text() == "Score: 0 of 0 questions right"

    page.locator("#qa-check").click()                                       # nothing chosen yet
    assert "Choose a family" in page.locator("#qa-feedback").inner_text()
    assert score.inner_text() == "Score: 0 of 0 questions right"

    q = page.locator("#quiz .q:not([hidden])")
    assert q.count() == 1 and q.locator(".turn.flagged").is_visible()
    right = {k: q.get_attribute(f"data-{k}") for k in ("family", "subtype", "dimension")}
    for k, v in right.items():
        page.select_option(f"#qa-{k}", v)
    page.locator("#qa-check").click()
    assert score.inner_text() == "Score: 1 of 1 question right"
    assert page.locator("#qa-feedback .verdict").inner_text() == "Right!"
    assert page.locator("#r-1").is_visible() and "What makes it so" in page.locator("#r-1").inner_text()

    page.locator("#qa-next").click()
    q = page.locator("#quiz .q:not([hidden])")
    assert q.get_attribute("id") == "q-2" and not page.locator("#r-1").is_visible()
    fam = q.get_attribute("data-family")
    page.select_option("#qa-family", "confrontation" if fam == "withdrawal" else "withdrawal")
    sub = q.get_attribute("data-subtype")
    page.select_option("#qa-subtype", "denial" if sub != "denial" else "defends_self")
    page.select_option("#qa-dimension", q.get_attribute("data-dimension"))
    page.locator("#qa-check").click()
    assert score.inner_text() == "Score: 1 of 2 questions right"
    feedback = page.locator("#qa-feedback").inner_text()
    assert "Not quite." in feedback and "Dimension: you chose" in feedback and "(right)" in feedback
    assert page.locator("#r-2").is_visible()
    for k in ("family", "subtype", "dimension"):
        assert page.locator(f"label[for=qa-{k}]").is_visible()
    assert_offline(view)
