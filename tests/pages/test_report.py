"""The report page builder, from a tiny OUTDIR written here (columns as in docs/outputs.md)."""

from __future__ import annotations

import csv
import re
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from rupture_detect.cli import main
from rupture_detect.decisions import Evidence, RuleHit
from rupture_detect.pages.report import (
    ReportTables,
    evidence_of,
    highlight,
    is_outdir,
    read_outdir,
    render_report,
    sanitize_svg,
    tables_from_scores,
)
from rupture_detect.run.scoring import UTTERANCE_COLUMNS
from rupture_detect.taxonomy import load_taxonomy

MARKERS = [m for m in load_taxonomy().marker_ids]
SESSION_COLUMNS = (["session_id", "source", "utterances", "client_turns", "therapist_turns", "flagged",
                    "withdrawal", "confrontation"] + [f"n_{m}" for m in MARKERS]
                   + ["strain_bond", "strain_task", "strain_goal", "episodes", "resolved", "partly_resolved",
                      "unresolved", "resolution_rate", "tf_critical", "tf_repeats_rejected", "tf_presses_agenda",
                      "tf_long_self_disclosure", "tf_silence"])
EPISODE_COLUMNS = ["session_id", "episode", "turn", "start", "marker", "subtype", "dimension", "confidence",
                   "prev_therapist_turn", "response_turn", "response_strategies", "response_evidence",
                   "suggested_strategies", "strategy_fit", "next_client_turns", "outcome", "outcome_reason",
                   "recurrences", "therapist_factors"]
SEGMENT_COLUMNS = (["session_id", "segment", "first_turn", "last_turn", "start", "end", "client_turns"]
                   + [f"n_{m}" for m in MARKERS]
                   + ["withdrawal_significance", "confrontation_significance", "strategies"])

T, C = "therapist", "client"


def ev(p, *hits):
    return Evidence(tuple(RuleHit(rule, text) for rule, text in hits), p)


# (session, turn, speaker, text, marker, subtype, dimension, confidence, evidence, suggested, start)
UTTERANCES = [
    ("s1", 1, T, "How did the week go with the diary?", "", "", "", "", "", "", 10),
    ("s1", 2, C, "Fine. I didn't really do it. You’re the expert, whatever you think.", "withdrawal",
     "deferential_appeasing", "bond", 0.82, ev(0.91, ("APP-01", "You're the expert"), ("APP-01", "Whatever you think")),
     "invite_discussion;allow_assertion;disclose_internal_experience;link_to_patterns", 14),
    ("s1", 3, T, "I notice you agreed quickly. What is it like when I suggest things?", "", "", "", "", "", "", 22),
    ("s1", 4, C, "These worksheets are pointless <script>alert(1)</script> & useless.", "confrontation",
     "complaint_about_activities", "task", 0.88, ev(0.70, ("ACT-01", "worksheets are pointless")),
     "illustrate_rationale;change_tasks_goals;clarify_misunderstanding;invite_discussion", 30),
    ("s1", 5, T, "That's fair. Shall we shrink it to one line a day?", "", "", "", "", "", "", 41),
    ("s1", 6, C, "OK, I could try that on the bus.", "none", "", "", 0.9, "", "", 48),
    ("s1", 7, T, "Good. And your mum, how has she been?", "", "", "", "", "", "", 55),
    ("s1", 8, C, "Stop asking me about my mum.", "confrontation", "control_pressure", "bond", 0.35,
     ev(0.41, ("CTL-02", "Stop asking me")), "allow_assertion;invite_discussion;acknowledge_contribution;"
     "clarify_misunderstanding", 61),
    ("s2", 1, T, "What went through your mind?", "", "", "", "", "", "", None),
    ("s2", 2, C, "Dunno.", "withdrawal", "minimal_response", "task", 0.55, ev(0.60, ("MIN-01", "Dunno.")),
     "change_tasks_goals;clarify_misunderstanding;invite_discussion;disclose_internal_experience", None),
    ("s2", 3, T, "Take your time.", "", "", "", "", "", "", None),
    ("s2", 4, C, "People just get on with things, don't they.", "withdrawal", "abstract_communication", "task",
     0.48, ev(0.52), "redirect_refocus;illustrate_rationale;invite_discussion;validate_defensive_posture",
     None),
    ("s2", 5, T, "And you?", "", "", "", "", "", "", None),
    ("s2", 6, C, "I suppose.", "none", "", "", 0.7, "", "", None),
]
FLAGGED = [u for u in UTTERANCES if u[4] in ("withdrawal", "confrontation")]

CHART = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="400pt" height="100pt"
     viewBox="0 0 400 100" version="1.1">
 <metadata><title>chart metadata</title></metadata>
 <defs><style type="text/css">@import url(https://example.com/a.css); *{stroke-linecap: butt}</style>
  <clipPath id="p1"><rect x="0" y="0" width="400" height="100"/></clipPath></defs>
 <g id="figure_1" clip-path="url(#p1)">
  <rect id="bg" width="400" height="100" fill="#ffffff" onclick="alert(1)"/>
  <use xlink:href="#bg"/>
  <a href="https://example.com/x"><text x="10" y="20">chart-label-text</text></a>
  <script>fetch('https://example.com/leak')</script>
  <image href="https://example.com/a.png" width="5" height="5"/>
  <a xlink:href="#bg"><animate attributeName="href" values="javascript:alert(2)"/></a>
 </g>
</svg>
"""


def _write_csv(path: Path, columns: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)


def write_outdir(folder: Path, episodes: bool = True, chart: bool = True) -> Path:
    """A tiny score output folder: utterances, sessions, and optionally episodes, segments and a chart."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [dict(zip(["session_id", "turn", "speaker", "text", "marker", "subtype", "dimension", "confidence",
                      "evidence", "suggested_strategies", "start"], u), end="") for u in UTTERANCES]
    for r in rows:
        r["start"] = "" if r["start"] is None else float(r["start"])
        e = r["evidence"] or Evidence()
        r.update(evidence=e.format(), evidence_spans=e.to_json(r["text"]), p_marker=e.model_p)
    _write_csv(folder / "utterances.csv", UTTERANCE_COLUMNS, rows)
    sessions = []
    for sid, strain in (("s1", (0.29, 0.16, 0.0)), ("s2", (0.0, 0.34, 0.0))):
        mine = [u for u in FLAGGED if u[0] == sid]
        s = dict.fromkeys(SESSION_COLUMNS, 0)
        s.update(session_id=sid, source=f"{sid}.txt", utterances=sum(u[0] == sid for u in UTTERANCES),
                 client_turns=3, therapist_turns=3 if sid == "s2" else 4, flagged=len(mine),
                 withdrawal=sum(u[4] == "withdrawal" for u in mine),
                 confrontation=sum(u[4] == "confrontation" for u in mine),
                 strain_bond=strain[0], strain_task=strain[1], strain_goal=strain[2], resolution_rate="")
        sessions.append(s)
    sessions[0].update(episodes=2, partly_resolved=1, unresolved=1, resolution_rate=0.25)
    _write_csv(folder / "sessions.csv", SESSION_COLUMNS, sessions)
    if episodes:
        eps = [dict(session_id="s1", episode=1, turn=2, start=14.0, marker="withdrawal",
                    subtype="deferential_appeasing", dimension="bond", confidence=0.82, prev_therapist_turn=1,
                    response_turn=3, response_strategies="invite_discussion",
                    response_evidence='INV-01 "What is it like"; model p=0.77',
                    suggested_strategies=UTTERANCES[1][9], strategy_fit="suggested", next_client_turns="4;6",
                    outcome="partly resolved", outcome_reason="marker recurs: complaint_about_activities",
                    recurrences=1, therapist_factors=""),
               dict(session_id="s1", episode=2, turn=8, start=61.0, marker="confrontation",
                    subtype="control_pressure", dimension="bond", confidence=0.35, prev_therapist_turn=7,
                    response_turn="", response_strategies="", response_evidence="",
                    suggested_strategies=UTTERANCES[7][9], strategy_fit="none", next_client_turns="",
                    outcome="unresolved", outcome_reason="session ends", recurrences=0,
                    therapist_factors="tf_presses_agenda")]
        _write_csv(folder / "episodes.csv", EPISODE_COLUMNS, eps)
        seg = dict.fromkeys(SEGMENT_COLUMNS, 0)
        seg.update(session_id="s1", segment=1, first_turn=1, last_turn=8, start=0, end=300, client_turns=4,
                   withdrawal_significance=3, confrontation_significance=4, strategies="invite_discussion")
        _write_csv(folder / "segments.csv", SEGMENT_COLUMNS, [seg])
    if chart:
        (folder / "charts").mkdir(exist_ok=True)
        (folder / "charts" / "s1.svg").write_text(CHART, encoding="utf-8")
    return folder


def external_refs(html: str) -> list[str]:
    """src/href values that are not in-page anchors, CSS url()s that are not, and any @import."""
    refs = [v for v in re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html) if not v.startswith("#")]
    refs += [u for u in re.findall(r"url\(\s*['\"]?([^)'\"]*)", html) if not u.startswith("#")]
    refs += re.findall(r"@import[^;]*", html)
    return refs


@pytest.fixture
def outdir(tmp_path) -> Path:
    return write_outdir(tmp_path / "out")


@pytest.fixture
def html(outdir) -> str:
    return render_report(read_outdir(outdir))


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="exchange .*?</li>\s*(?=<li class="exchange|</ol>\s*</section>)', html, re.S)


def test_every_flagged_turn_gets_an_exchange_with_its_labels(html):
    found = cards(html)
    assert len(found) == len(FLAGGED) == 5
    for card, u in zip(found, FLAGGED):
        assert f'data-subtype="{u[5]}"' in card and f'data-dimension="{u[6]}"' in card
        assert f'data-family="{u[4]}"' in card and f"<b>{round(100 * u[7])}%</b>" in card
        assert load_taxonomy().markers[u[5]].label.replace("'", "&#39;") in card


def test_evidence_is_highlighted_and_rules_and_model_probability_shown(html):
    appeasing = cards(html)[0]
    assert '<mark title="Evidence for APP-01">You’re the expert</mark>' in appeasing    # curly apostrophe
    assert '<mark title="Evidence for APP-01">whatever you think</mark>' in appeasing   # case differs
    assert "Rules <b>APP-01</b>" in appeasing and "Model probability <b>0.91</b>" in appeasing
    abstract = cards(html)[4]
    assert "<mark" not in abstract and "none (model only)" in abstract and "<b>0.52</b>" in abstract


def test_transcript_text_is_escaped(html):
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; useless" in html


def test_context_turns_before_and_after_with_the_response_marked(html):
    first = cards(html)[0]
    for text in ("How did the week go", "I notice you agreed quickly", "These worksheets"):
        assert text in first
    assert re.search(r'class="turn after response".*?turn 3', first, re.S)
    assert re.search(r'class="turn flagged".*?turn 2', first, re.S)


def test_what_the_therapist_did_next_comes_from_episodes(html):
    first, recurrence, last = cards(html)[:3]
    assert "Episode 1" in first and "Invite here-and-now discussion" in first
    assert "partly resolved" in first and "marker recurs: complaint_about_activities" in first
    assert "used a suggested strategy" in first and "✓ used in the response" in first
    assert "comes back inside episode 1" in recurrence
    assert re.search(r'class="turn after response".*?turn 5', recurrence, re.S)
    assert "unresolved" in last and "session ends" in last.lower()
    no_episode = cards(html)[3]          # s2 has no episode rows: the next therapist turn is shown
    assert "next turn is turn 3" in no_episode and 'class="turn after response"' in no_episode


def test_without_episodes_csv_the_next_therapist_turn_is_shown(tmp_path):
    html = render_report(read_outdir(write_outdir(tmp_path / "o", episodes=False)))
    first = cards(html)[0]
    assert "next turn is turn 3" in first and "episodes.csv" in first
    assert "Segments (3RS" not in html


def test_suggested_strategies_come_with_their_rationale(html):
    tax = load_taxonomy()
    first = cards(html)[0]
    for sid in UTTERANCES[1][9].split(";"):
        s = tax.strategies[sid]
        assert s.label.replace("'", "&#39;") in first and s.rationale.replace("'", "&#39;") in first
    positions = [first.index(tax.strategies[s].label.replace("'", "&#39;")) for s in UTTERANCES[1][9].split(";")]
    assert positions == sorted(positions)          # in the hierarchy's order


def test_chart_is_inlined_safely_and_fallback_timeline_drawn(html):
    assert "chart-label-text" in html                          # the chart is there...
    assert "example.com" not in html and "onclick" not in html and "fetch(" not in html
    assert "javascript:" not in html and "<animate" not in html
    assert "#c1-root * {stroke-linecap: butt}" in html and "@import" not in html       # chart CSS stays scoped
    assert "chart metadata" not in html and "<!DOCTYPE svg" not in html
    assert 'id="c1-p1"' in html and "url(#c1-p1)" in html and 'xlink:href="#c1-bg"' in html
    s2 = html[html.index('id="s-2"'):]
    assert '<svg class="timeline"' in s2 and s2.count('href="#ex-2-') == 2        # one shape per flagged turn


def test_page_is_self_contained_and_accessible(html):
    assert external_refs(html) == []
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg",
                                                               "http://www.w3.org/1999/xlink"}
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert html.count("<h1") == 1 and html.count('<h2 id="s-') == 2
    assert "Prompts for reflection, not verdicts." in html
    for control in ("f-subtype", "f-dimension", "f-conf", "f-sort", "f-compact"):
        assert re.search(rf'<label for="{control}"|<label><input type="checkbox" id="{control}"', html), control
    assert html.count('<use href="#i-withdrawal"/>') >= 3 and html.count('<use href="#i-confrontation"/>') >= 2
    assert "@media print" in html


def test_strain_per_dimension_and_segments(html):
    s1 = html[html.index('id="s-1"'):html.index('id="s-2"')]
    assert "0.290" in s1 and "0.160" in s1 and "(2 flagged)" in s1
    assert "Segments (3RS significance" in s1 and "invite discussion" in s1
    assert "2 episodes: 0 resolved, 1 partly resolved, 1 unresolved" in " ".join(s1.split())


def test_evidence_spans_are_read_back_as_structure():
    text = "Fine. I didn't really do it. You’re the expert, whatever you think."
    e = ev(0.91, ("APP-01", "You're the expert"))
    got = evidence_of({"evidence_spans": e.to_json(text), "p_marker": 0.91})
    assert got.rules == ["APP-01"] and got.model_p == 0.91 and got.gate is None
    assert text[got.hits[0]["start"]:got.hits[0]["end"]] == "You’re the expert"
    assert evidence_of({"evidence_spans": "", "p_marker": float("nan")}).hits == []
    assert evidence_of({"evidence_spans": "{not json", "p_marker": 0.4}).model_p == 0.4


def test_highlight_merges_overlaps_and_skips_unlocated_hits():
    text = "Sure. Oh, [laughs] did I tell you about the dog? Anyway."
    hits = [{"rule": "AVS-03", "start": 0, "end": 25}, {"rule": "AVS-02", "start": 19, "end": 33},
            {"rule": "X-01", "start": None, "end": None}, {"rule": "X-02", "start": 50, "end": 99}]
    pieces = highlight(text, hits)
    assert "".join(p for p, _ in pieces) == text
    marked = [(p, r) for p, r in pieces if r]
    assert marked == [("Sure. Oh, [laughs] did I tell you", "AVS-03 AVS-02")]


def test_sanitize_svg_rejects_entities_and_non_svg():
    assert sanitize_svg('<!DOCTYPE x [<!ENTITY a "b">]><svg xmlns="http://www.w3.org/2000/svg"/>', "p", "x") is None
    assert sanitize_svg("<html/>", "p", "x") is None and sanitize_svg("not xml", "p", "x") is None


def test_reads_jsonl_output_and_detects_outdirs(tmp_path, outdir):
    assert is_outdir(outdir) and not is_outdir(tmp_path) and not is_outdir(outdir / "utterances.csv")
    jdir = tmp_path / "j"
    jdir.mkdir()
    for name in ("utterances", "sessions"):
        pd.read_csv(outdir / f"{name}.csv").to_json(jdir / f"{name}.jsonl", orient="records", lines=True)
    html = render_report(read_outdir(jdir))
    assert len(cards(html)) == 5 and "turn 2" in html and "turn 2.0" not in html


def test_tables_from_scores_uses_episodes_when_present(outdir):
    tables = read_outdir(outdir)

    class FakeScores:
        utterances, sessions, episodes = tables.utterances, tables.sessions, tables.episodes
    t = tables_from_scores(FakeScores())
    assert t.episodes is tables.episodes and t.segments is None


def test_hundreds_of_exchanges_render_quickly():
    n = 600
    utts = pd.DataFrame([{"session_id": f"s{i // 100}", "turn": str(i), "speaker": C if i % 2 else T,
                          "text": f"turn {i} I'm fine, really", "marker": ("withdrawal" if i % 2 else ""),
                          "subtype": "denial" if i % 2 else "", "dimension": "bond" if i % 2 else "",
                          "confidence": 0.6 if i % 2 else "", "evidence": 'DEN-01 "I\'m fine"; model p=0.7',
                          "suggested_strategies": "invite_discussion", "start": "", "end": ""} for i in range(2 * n)])
    t0 = time.perf_counter()
    html = render_report(ReportTables(utts, pd.DataFrame({"session_id": []})))
    assert html.count('<li class="exchange') == n
    assert time.perf_counter() - t0 < 10


def test_cli_report_from_outdir(outdir, tmp_path):
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", str(outdir), "-o", str(out), "--title", "Supervision <set>"])
    assert result.exit_code == 0, result.output
    assert "2 session(s), 5 flagged exchange(s)" in result.output
    assert "worksheets" not in result.output and "Dunno" not in result.output    # no transcript text
    page = out.read_text("utf-8")
    assert "<title>Supervision &lt;set&gt;</title>" in page and len(cards(page)) == 5


def test_cli_report_scores_transcripts_first(write, tmp_path):
    src = write("talk.txt", "T: How have things been since last time?\nC: Fine.\n"
                            "T: Shall we try the breathing exercise again?\n"
                            "C: No. That won't work, we've done it a hundred times and it's pointless.\n"
                            "T: OK, tell me more about that.\n")
    out = tmp_path / "talk.html"
    result = CliRunner().invoke(main, ["report", str(src), "-o", str(out), "--rules-only"])
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    n = int(re.search(r"(\d+) flagged exchange", result.output).group(1))
    assert "Session talk" in page and len(cards(page)) == n and external_refs(page) == []
