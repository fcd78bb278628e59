"""The study library and quiz: annotated examples per marker, drawn from the corpus's train split.

Teaching notes (the one-line test per marker and "not to be confused with"
texts) live in ``data/study.json`` and are validated against the taxonomy on
load. Examples are drawn deterministically from a seed; the same draw feeds
the HTML page (library and in-page quiz) and the terminal quiz.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..learn.corpus import read_corpus
from ..session.strain import suggest
from ..taxonomy import DIMENSIONS, FAMILIES, DataFileError, load_taxonomy, require
from .report import environment, strategy_items

MAX_EXAMPLE_CHARS = 420        # prefer examples a trainee can read at a glance


# ---------------------------------------------------------------- teaching notes

@dataclass(frozen=True)
class Confusion:
    id: str          # a marker id, or "none"
    label: str
    text: str


@dataclass(frozen=True)
class MarkerNotes:
    id: str
    test: str
    not_confused_with: tuple[Confusion, ...]


@dataclass(frozen=True)
class StudyNotes:
    markers: dict[str, MarkerNotes]
    dimensions: dict[str, str]


def _text(value, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataFileError(f"{where}: expected a non-empty string")
    return value.strip()


def parse_study(data: dict, where: str = "study.json") -> StudyNotes:
    """Validate the teaching notes: every marker id exactly once, neighbours that exist, no empty texts."""
    tax = load_taxonomy()
    require(data, {"about", "markers", "dimensions"}, where)
    if set(data["markers"]) != set(tax.marker_ids):
        missing, extra = set(tax.marker_ids) - set(data["markers"]), set(data["markers"]) - set(tax.marker_ids)
        raise DataFileError(f"{where}: markers missing {sorted(missing)}, unknown {sorted(extra)}")
    if set(data["dimensions"]) != set(DIMENSIONS):
        raise DataFileError(f"{where}: dimensions must be exactly {DIMENSIONS}")
    markers = {}
    for mid in tax.marker_ids:
        entry, here = data["markers"][mid], f"{where}: markers.{mid}"
        require(entry, {"test", "not_confused_with"}, here)
        if not isinstance(entry["not_confused_with"], list) or not entry["not_confused_with"]:
            raise DataFileError(f"{here}.not_confused_with: expected a non-empty list")
        seen, confusions = set(), []
        for i, c in enumerate(entry["not_confused_with"]):
            require(c, {"id", "text"}, f"{here}.not_confused_with[{i}]")
            if c["id"] != "none" and c["id"] not in tax.markers or c["id"] == mid or c["id"] in seen:
                raise DataFileError(f"{here}.not_confused_with[{i}]: bad or repeated neighbour {c['id']!r}")
            seen.add(c["id"])
            label = "No marker" if c["id"] == "none" else tax.markers[c["id"]].label
            confusions.append(Confusion(c["id"], label, _text(c["text"], f"{here}.not_confused_with[{i}].text")))
        markers[mid] = MarkerNotes(mid, _text(entry["test"], f"{here}.test"), tuple(confusions))
    dims = {d: _text(data["dimensions"][d], f"{where}: dimensions.{d}") for d in DIMENSIONS}
    return StudyNotes(markers, dims)


@lru_cache(maxsize=1)
def load_study() -> StudyNotes:
    text = resources.files("rupture_detect").joinpath("data/study.json").read_text("utf-8")
    return parse_study(json.loads(text))


# ---------------------------------------------------------------- examples

@dataclass(frozen=True)
class Example:
    session_id: str
    turn: str
    before: str              # the therapist turn the client answers ("" at the start)
    client: str
    after: str               # the therapist's next turn ("" at the end)
    family: str
    subtype: str
    dimension: str
    after_strategies: tuple[str, ...] = ()


def train_examples(corpus: str | Path | None = None) -> dict[str, list[Example]]:
    """Every flagged client turn of the train split, per marker id, in corpus order."""
    utts, sessions = read_corpus(corpus)
    if "split" not in sessions or not (sessions["split"] == "train").any():
        raise ValueError("the corpus has no train split (sessions.jsonl or a split column)")
    train = set(sessions.loc[sessions["split"] == "train", "session_id"])
    pool: dict[str, list[Example]] = {m: [] for m in load_taxonomy().marker_ids}
    if "strategy" not in utts:
        utts["strategy"] = ""
    for sid, frame in utts[utts["session_id"].isin(train)].groupby("session_id", sort=False):
        rows = frame.to_dict("records")
        before = ""
        for i, r in enumerate(rows):
            if r["speaker"] == "therapist":
                before = str(r["text"])
                continue
            if r["speaker"] != "client" or r["subtype"] not in pool:
                continue
            nxt = next((x for x in rows[i + 1:] if x["speaker"] == "therapist"), None)
            pool[r["subtype"]].append(Example(
                str(sid), str(r["turn"]), before, str(r["text"]), str(nxt["text"]) if nxt else "",
                r["marker"], r["subtype"], r["dimension"],
                tuple(s for s in str(nxt["strategy"]).split(";") if s) if nxt else ()))
    return pool


def _readable(examples: list[Example]) -> list[Example]:
    good = [e for e in examples if e.before and len(e.client) <= MAX_EXAMPLE_CHARS]
    return good or examples


def draw_examples(pool: dict[str, list[Example]], per_marker: int = 3, seed: int = 0) -> dict[str, list[Example]]:
    """A few examples per marker, from different sessions where possible; same seed, same draw."""
    out = {}
    for mid, examples in pool.items():
        cands = list(_readable(examples))
        random.Random(f"{seed}/{mid}").shuffle(cands)
        picked, sessions = [], set()
        for e in cands:
            if e.session_id not in sessions:
                picked.append(e)
                sessions.add(e.session_id)
            if len(picked) == per_marker:
                break
        picked += [e for e in cands if e not in picked][:per_marker - len(picked)]
        out[mid] = picked
    return out


def draw_quiz(pool: dict[str, list[Example]], n: int = 10, seed: int = 0, exclude=()) -> list[Example]:
    """``n`` questions, spread over the markers (one per marker per round), avoiding ``exclude``."""
    rng = random.Random(f"{seed}/quiz")
    skip = set(exclude)
    queues = {}
    for mid, examples in pool.items():
        cands = [e for e in _readable(examples) if e not in skip] or list(examples)
        rng.shuffle(cands)
        queues[mid] = cands
    order = list(queues)
    questions: list[Example] = []
    while len(questions) < n and any(queues.values()):
        rng.shuffle(order)
        for mid in order:
            if queues[mid] and len(questions) < n:
                questions.append(queues[mid].pop())
    return questions


# ---------------------------------------------------------------- explanations

def explain(ex: Example) -> dict:
    """Why the example is its marker and not a neighbour, its dimension, and the repair that fits."""
    tax, notes = load_taxonomy(), load_study()
    marker, note = tax.markers[ex.subtype], notes.markers[ex.subtype]
    usual = marker.dimension
    desc = notes.dimensions[ex.dimension]
    if ex.dimension == usual:
        dim_note = f"{ex.dimension.capitalize()}, the usual strain for this marker. {desc}"
    else:
        dim_note = (f"{ex.dimension.capitalize()}, not the usual {usual}: read in context, what would have to "
                    f"change is {desc[0].lower()}{desc[1:]}")
    return {"family": ex.family, "subtype": ex.subtype, "label": marker.label, "meaning": marker.meaning,
            "test": note.test, "confusions": note.not_confused_with, "dimension": ex.dimension,
            "dimension_note": dim_note, "usual": usual,
            "suggested": strategy_items(suggest(ex.subtype, ex.dimension)),
            "coded_response": strategy_items(ex.after_strategies)}


def build_study_context(per_marker: int = 3, seed: int = 0, n_quiz: int = 10, corpus=None) -> dict:
    tax, notes = load_taxonomy(), load_study()
    pool = train_examples(corpus)
    drawn = draw_examples(pool, per_marker, seed)
    shown = [e for exs in drawn.values() for e in exs]
    quiz = draw_quiz(pool, n_quiz, seed, exclude=shown)
    markers = []
    for m in tax.markers.values():
        markers.append({"id": m.id, "label": m.label, "family": m.family, "meaning": m.meaning,
                        "dimension": m.dimension, "covert": m.covert, "test": notes.markers[m.id].test,
                        "confusions": notes.markers[m.id].not_confused_with,
                        "suggested": strategy_items(suggest(m.id, m.dimension)),
                        "examples": [{"ex": e, "why": explain(e)} for e in drawn[m.id]],
                        "available": len(pool[m.id])})
    return {"title": "Rupture markers: a study library", "markers": markers, "families": FAMILIES,
            "quiz": [{"ex": e, "why": explain(e)} for e in quiz], "seed": seed, "per_marker": per_marker,
            "dimension_notes": notes.dimensions, "n_train": sum(len(v) for v in pool.values())}


def render_study(per_marker: int = 3, seed: int = 0, n_quiz: int = 10, corpus=None) -> str:
    ctx = build_study_context(per_marker, seed, n_quiz, corpus)
    return environment().get_template("study.html.j2").render(**ctx)


# ---------------------------------------------------------------- the terminal quiz

def parse_choice(answer: str, options: list[tuple[str, str]]) -> str | None:
    """A number (from 1), an id, a label, or an unambiguous prefix of one -> the option's id."""
    a = answer.strip().lower().replace(" ", "_")
    if not a:
        return None
    if a.isdigit():
        k = int(a)
        return options[k - 1][0] if 1 <= k <= len(options) else None
    for oid, label in options:
        if a in (oid, label.lower().replace(" ", "_")):
            return oid
    hits = [oid for oid, label in options if oid.startswith(a) or label.lower().replace(" ", "_").startswith(a)]
    return hits[0] if len(hits) == 1 else None


@dataclass
class QuizScore:
    asked: int = 0
    right: int = 0
    parts: dict = field(default_factory=lambda: {"family": 0, "subtype": 0, "dimension": 0})

    def line(self) -> str:
        p = self.parts
        return (f"{self.right}/{self.asked} questions fully right (family {p['family']}/{self.asked}, "
                f"subtype {p['subtype']}/{self.asked}, dimension {p['dimension']}/{self.asked})")


def mark(ex: Example, family: str, subtype: str, dimension: str) -> dict[str, bool]:
    return {"family": family == ex.family, "subtype": subtype == ex.subtype, "dimension": dimension == ex.dimension}


def run_quiz(questions: list[Example], ask, say) -> QuizScore:
    """Ask each question through ``ask(prompt) -> str`` (EOFError stops early); report through ``say``."""
    import textwrap
    tax = load_taxonomy()
    subtypes = [(m.id, m.label) for m in tax.markers.values()]
    menus = {"family": [(f, f) for f in FAMILIES], "subtype": subtypes, "dimension": [(d, d) for d in DIMENSIONS]}
    listing = "\n".join(f"  {i:>2}. {label} ({m.family})" for i, (mid, label) in enumerate(subtypes, 1)
                        for m in [tax.markers[mid]])
    hints = {"family": "1 withdrawal, 2 confrontation", "subtype": "1-14 or a name, ? lists them",
             "dimension": "1 bond, 2 task, 3 goal"}
    def wrap(who, text):
        return textwrap.fill(text, 78, initial_indent=f"  {who:<18}", subsequent_indent=" " * 20)
    score = QuizScore()
    say(f"Subtypes:\n{listing}\n")
    for k, ex in enumerate(questions, start=1):
        say(f"Question {k} of {len(questions)}")
        say(wrap("Therapist:", ex.before or "(start of session)"))
        say(wrap("Client:", ex.client))
        say(wrap("Therapist (next):", ex.after or "(end of session)"))
        answers = {}
        try:
            for what in ("family", "subtype", "dimension"):
                while what not in answers:
                    raw = ask(f"{what.capitalize()} [{hints[what]}]")
                    if raw.strip() == "?":
                        say(listing)
                    elif (choice := parse_choice(raw, menus[what])) is not None:
                        answers[what] = choice
                    else:
                        say(f"  Please answer with a number or a name ({hints[what]}).")
        except EOFError:
            say("\nQuiz stopped.")
            break
        marks = mark(ex, **answers)
        score.asked += 1
        score.right += all(marks.values())
        for part, ok in marks.items():
            score.parts[part] += ok
        why = explain(ex)
        say("Right!" if all(marks.values()) else "Not quite.")
        say("  " + ", ".join(f"{p}: {'right' if ok else 'wrong'}" for p, ok in marks.items()))
        say(f"  Answer: {ex.family} / {ex.subtype} ({why['label']}) / {ex.dimension}")
        say(wrap("What makes it so:", why["test"]))
        say("  Not to be confused with:")
        for c in why["confusions"]:
            say(textwrap.fill(f"{c.label}: {c.text}", 78, initial_indent="    - ", subsequent_indent="      "))
        say(wrap("Dimension:", why["dimension_note"]))
        say("  Repair that would fit:")
        for s in why["suggested"]:
            say(textwrap.fill(f"{s['label']}: {s['rationale']}", 78, initial_indent="    - ",
                              subsequent_indent="      "))
        say(f"Score: {score.line()}\n")
    say(f"Final score: {score.line()}.")
    return score
