"""The study library (teaching notes, example draws, page) and the terminal quiz."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources

import pytest
from click.testing import CliRunner

from rupture_detect.cli import main
from rupture_detect.learn.corpus import read_corpus
from rupture_detect.pages.study import (
    draw_examples,
    draw_quiz,
    explain,
    load_study,
    mark,
    parse_choice,
    parse_study,
    render_study,
    train_examples,
)
from rupture_detect.session.strain import suggest
from rupture_detect.taxonomy import DataFileError, load_taxonomy

# (session, turn, speaker, text, marker, subtype, dimension)
TINY = [
    ("tr1", 1, "therapist", "You looked tearful when you mentioned your son.", "", "", ""),
    ("tr1", 2, "client", "It doesn't bother me. He's busy.", "withdrawal", "denial", "bond"),
    ("tr1", 3, "therapist", "It would be OK if it did bother you.", "", "", ""),
    ("tr1", 4, "client", "Maybe a bit.", "none", "", ""),
    ("tr1", 5, "therapist", "Shall we do the diary again?", "", "", ""),
    ("tr1", 6, "client", "These diaries are pointless, every single week.", "confrontation",
     "complaint_about_activities", "task"),
    ("tr1", 7, "therapist", "Fair enough. What would feel useful instead?", "", "", ""),
    ("tr2", 1, "therapist", "What went through your mind when she left?", "", "", ""),
    ("tr2", 2, "client", "Dunno.", "withdrawal", "minimal_response", "task"),
    ("tr2", 3, "therapist", "Take your time.", "", "", ""),
    ("tr2", 4, "client", "No big deal, honestly.", "withdrawal", "denial", "task"),
    ("dv1", 1, "therapist", "How are things?", "", "", ""),
    ("dv1", 2, "client", "DEV-ONLY-TEXT nothing bothers me.", "withdrawal", "denial", "bond"),
]
STRATEGY = {("tr1", 3): "allow_assertion", ("tr1", 7): "change_tasks_goals;invite_discussion"}


@pytest.fixture
def tiny(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as fh:
        for sid, turn, spk, text, marker, sub, dim in TINY:
            fh.write(json.dumps({"session_id": sid, "turn": turn, "speaker": spk, "text": text, "marker": marker,
                                 "subtype": sub, "dimension": dim,
                                 "strategy": STRATEGY.get((sid, turn), "")}) + "\n")
    with (folder / "sessions.jsonl").open("w", encoding="utf-8") as fh:
        for sid, split in (("tr1", "train"), ("tr2", "train"), ("dv1", "dev")):
            fh.write(json.dumps({"session_id": sid, "split": split}) + "\n")
    return folder


def packaged() -> dict:
    return json.loads(resources.files("rupture_detect").joinpath("data/study.json").read_text("utf-8"))


# ---------------------------------------------------------------- teaching notes

def test_packaged_notes_cover_every_marker():
    notes = load_study()
    tax = load_taxonomy()
    assert list(notes.markers) == list(tax.marker_ids) and len(notes.markers) == 14
    for note in notes.markers.values():
        assert note.test and note.not_confused_with
        assert all(c.id == "none" or c.id in tax.markers for c in note.not_confused_with)


@pytest.mark.parametrize("breakage, message", [
    (lambda d: d["markers"].pop("denial"), "missing"),
    (lambda d: d["markers"]["denial"]["not_confused_with"].append({"id": "sulking", "text": "x"}), "neighbour"),
    (lambda d: d["markers"]["denial"]["not_confused_with"].append({"id": "denial", "text": "x"}), "neighbour"),
    (lambda d: d["markers"]["denial"].update(test="  "), "non-empty"),
    (lambda d: d["markers"]["denial"].update(extra=1), "unknown keys"),
    (lambda d: d["markers"]["denial"].update(not_confused_with=[]), "non-empty list"),
    (lambda d: d["dimensions"].pop("goal"), "dimensions"),
])
def test_bad_notes_are_rejected(breakage, message):
    data = copy.deepcopy(packaged())
    breakage(data)
    with pytest.raises(DataFileError, match=message):
        parse_study(data)


# ---------------------------------------------------------------- drawing examples

def test_examples_come_from_the_train_split_only(tiny):
    pool = train_examples(tiny)
    flat = [e for exs in pool.values() for e in exs]
    assert {e.session_id for e in flat} == {"tr1", "tr2"} and len(flat) == 4
    first = pool["denial"][0]
    assert first.before.startswith("You looked tearful") and first.after.startswith("It would be OK")
    assert first.after_strategies == ("allow_assertion",)
    assert pool["minimal_response"][0].after == "Take your time."


def test_real_corpus_examples_are_train_only():
    utts, sessions = read_corpus()
    train = set(sessions.loc[sessions["split"] == "train", "session_id"])
    pool = train_examples()
    assert all(pool[m] for m in load_taxonomy().marker_ids)
    assert {e.session_id for exs in pool.values() for e in exs} <= train


def test_draws_are_deterministic_and_spread():
    pool = train_examples()
    a, b, c = draw_examples(pool, 3, seed=7), draw_examples(pool, 3, seed=7), draw_examples(pool, 3, seed=8)
    assert a == b and a != c
    for mid, exs in a.items():
        assert len(exs) == 3 and all(e.subtype == mid for e in exs)
        assert len({e.session_id for e in exs}) == 3
    shown = [e for exs in a.values() for e in exs]
    quiz = draw_quiz(pool, 20, seed=7, exclude=shown)
    assert quiz == draw_quiz(pool, 20, seed=7, exclude=shown) and len(quiz) == 20
    assert not set(quiz) & set(shown) and len({q.subtype for q in quiz}) == 14


def test_explain_uses_notes_and_the_repair_hierarchy(tiny):
    ex = train_examples(tiny)["denial"][1]            # denial coded on the task dimension
    why = explain(ex)
    assert [s["id"] for s in why["suggested"]] == suggest("denial", "task")
    assert "not the usual bond" in why["dimension_note"]
    assert why["confusions"][0].label == "Defends self"


def test_parse_choice_and_marking():
    opts = [(m.id, m.label) for m in load_taxonomy().markers.values()]
    assert parse_choice("1", opts) == "denial" and parse_choice("14", opts) == "control_pressure"
    assert parse_choice("Defends self", opts) == "defends_self" and parse_choice("complaint_about_p", opts) is None
    assert parse_choice("complaint about pa", opts) == "complaint_about_parameters"
    assert parse_choice("0", opts) is None and parse_choice("15", opts) is None and parse_choice("", opts) is None
    fams = [("withdrawal", "withdrawal"), ("confrontation", "confrontation")]
    assert parse_choice("c", fams) == "confrontation" and parse_choice("W", fams) == "withdrawal"


def test_mark_scores_each_part():
    ex = train_examples()["denial"][0]
    assert mark(ex, ex.family, ex.subtype, ex.dimension) == {"family": True, "subtype": True, "dimension": True}
    assert mark(ex, "confrontation", "defends_self", ex.dimension) == {"family": False, "subtype": False,
                                                                       "dimension": True}


# ---------------------------------------------------------------- the page

def test_study_page_has_a_section_per_marker_and_a_quiz():
    html = render_study(per_marker=2, seed=3, n_quiz=6)
    tax, notes = load_taxonomy(), load_study()
    for mid, m in tax.markers.items():
        section = html[html.index(f'id="m-{mid}"'):]
        section = section[:section.index("</section>")]
        assert section.count('<article class="example"') == 2
        assert notes.markers[mid].not_confused_with[0].text.replace("'", "&#39;").replace('"', "&#34;") in section
        first = suggest(mid, m.dimension)[0]
        assert tax.strategies[first].rationale.replace("'", "&#39;") in section
    assert html.count('<article class="q"') == 6
    assert "Prompts for reflection, not verdicts." in html
    for control in ("qa-family", "qa-subtype", "qa-dimension"):
        assert f'<label for="{control}">' in html
    refs = [v for v in re.findall(r"""\b(?:src|href)\s*=\s*["']?([^"'\s>]*)""", html) if not v.startswith("#")]
    assert refs == [] and not re.search(r"https?://", html)


def test_study_page_from_a_small_corpus_marks_missing_markers(tiny):
    html = render_study(per_marker=3, seed=0, n_quiz=2, corpus=tiny)
    assert "DEV-ONLY-TEXT" not in html
    assert html.count("No example of this marker in the train split.") == 11
    assert html.count('<article class="q"') == 2


def test_cli_study_writes_the_page(tmp_path, tiny):
    out = tmp_path / "s.html"
    result = CliRunner().invoke(main, ["study", "-o", str(out), "--corpus", str(tiny), "--n", "2"])
    assert result.exit_code == 0, result.output
    assert out.exists() and "study library" in result.output and "Dunno" not in result.output


def test_cli_study_needs_an_output_or_quiz():
    result = CliRunner().invoke(main, ["study"])
    assert result.exit_code == 2 and "--quiz" in result.output


# ---------------------------------------------------------------- the terminal quiz

def _questions(corpus, n, seed, per_marker=3):
    pool = train_examples(corpus)
    shown = [e for exs in draw_examples(pool, per_marker, seed).values() for e in exs]
    return draw_quiz(pool, n, seed, exclude=shown)


def _wrong(ex):
    other = "confrontation" if ex.family == "withdrawal" else "withdrawal"
    sub = next(m for m in load_taxonomy().marker_ids if m != ex.subtype)
    return [other, sub, ex.dimension]


def test_terminal_quiz_scores_right_and_wrong_answers():
    qs = _questions(None, 2, seed=5)
    answers = [qs[0].family, qs[0].subtype, qs[0].dimension] + _wrong(qs[1])
    result = CliRunner().invoke(main, ["study", "--quiz", "--n", "2", "--seed", "5"],
                                input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Question 1 of 2" in out and "Question 2 of 2" in out
    assert qs[0].client.split()[0] in out                        # the exchange is shown
    assert "Right!" in out and "Not quite." in out
    assert "Score: 1/1 questions fully right (family 1/1, subtype 1/1, dimension 1/1)" in out
    assert "Score: 1/2 questions fully right (family 1/2, subtype 1/2, dimension 2/2)" in out
    assert "Final score: 1/2 questions fully right" in out
    label = load_taxonomy().markers[qs[1].subtype].label
    assert f"Answer: {qs[1].family} / {qs[1].subtype} ({label}) / {qs[1].dimension}" in out
    assert "Not to be confused with:" in out and "Repair that would fit:" in out


def test_terminal_quiz_accepts_numbers_reprompts_and_stops_at_eof(tiny):
    qs = _questions(tiny, 3, seed=0, per_marker=1)
    ids = list(load_taxonomy().marker_ids)
    fam = "1" if qs[0].family == "withdrawal" else "2"
    answers = ["nonsense", fam, "?", str(ids.index(qs[0].subtype) + 1),
               str(["bond", "task", "goal"].index(qs[0].dimension) + 1)]
    result = CliRunner().invoke(main, ["study", "--quiz", "--corpus", str(tiny), "--n", "3", "--per-marker", "1"],
                                input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Please answer with a number or a name" in out
    assert out.count("Control / pressure (confrontation)") == 2           # listed at the start and on "?"
    assert "Score: 1/1" in out and "Quiz stopped." in out and "Final score: 1/1" in out
    assert "DEV-ONLY-TEXT" not in out


def test_terminal_quiz_is_deterministic_by_seed():
    a = _questions(None, 5, seed=11)
    assert a == _questions(None, 5, seed=11) and a != _questions(None, 5, seed=12)
