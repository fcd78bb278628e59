"""Rules as data: strict loading of the JSONL rule files and their compilation to spaCy matchers.

Two rule files ship in ``rupture_detect/data/rules/``:

* ``acts.jsonl`` tags what a turn *does* (``open_question``, ``closed_question``,
  ``reflection``, ``interpretation``, ``suggestion``, ...). The rupture rules use
  the previous therapist turn's acts as context.
* ``markers.jsonl`` proposes rupture markers. Each rule has an ``id`` that
  travels into the output as evidence, a ``marker`` id, a ``weight`` (how
  often the rule is right when it fires; tuned on the training split) and one
  way of matching:

  - ``phrases``: literal phrases, matched on lower-cased tokens;
  - ``pattern``: a spaCy ``Matcher`` token pattern (``LEMMA`` works);
  - ``check``: a named whole-turn test from :data:`CHECKS` with ``params``.

  Optional ``when`` conditions gate a match on context (see :data:`WHEN_KEYS`),
  ``suppress`` lists the context modifiers that cancel it, and ``dimension``
  overrides the marker's usual strain.
* ``modifiers.jsonl`` holds the context modifiers (negation, engaged
  disagreement, reported speech, exploring), after medspaCy's ConText idea:
  a cue with a direction and a scope.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..taxonomy import DIMENSIONS, DataFileError, load_taxonomy

ACTS = ("question", "open_question", "closed_question", "reflection", "empathy",
        "interpretation", "suggestion", "frame", "invitation",
        "permission", "advice", "warning", "long_turn")     # practitioner style (real talk)
CHECKS = {
    "short_reply": {"max_words", "words"},        # few words, all from a list of assent/filler words
    "low_overlap": {"min_words", "max_overlap"},  # long turn sharing no content with the question
    "laugh_with_distress": {"laughs", "words"},   # a laugh (note or word) beside distress words
    "question_mark": set(),                       # a sentence ending in '?'
    "long_turn": {"min_words"},                   # at least this many words
}
WHEN_KEYS = {
    "after": list,          # previous therapist turn has at least one of these acts
    "not_after": list,      # ... and none of these
    "max_words": int,       # the turn has at most this many words
    "min_words": int,
    "sent_start": bool,     # match begins a sentence (after at most a couple of fillers)
    "turn_start": bool,     # match begins the turn (after at most a couple of fillers)
    "cue": list,            # the turn carries one of these non-verbal notes
}
MODIFIER_CATEGORIES = ("negated", "engaged", "reported", "exploring")
DIRECTIONS = ("before", "after", "turn")   # where the cue sits relative to the target
FACTORS = ("critical", "presses_agenda", "long_self_disclosure")
KINDS = {"marker": "marker", "act": "act", "strategy": "strategy", "factor": "factor"}   # kind -> label key
_RULE_KEYS = {"id", "marker", "act", "strategy", "factor", "weight", "phrases", "pattern", "check", "params", "when",
              "suppress", "dimension", "note"}


@dataclass(frozen=True)
class Rule:
    id: str
    label: str                       # marker id (marker rules) or act (act rules)
    weight: float = 1.0
    phrases: tuple[str, ...] = ()
    pattern: tuple = ()
    check: str | None = None
    params: dict = field(default_factory=dict)
    when: dict = field(default_factory=dict)
    suppress: tuple[str, ...] = ()
    dimension: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Modifier:
    id: str
    category: str
    phrases: tuple[str, ...]
    direction: str
    window: int


def _fail(where: str, msg: str) -> None:
    raise DataFileError(f"{where}: {msg}")


def parse_rule(obj: dict, where: str, kind: str) -> Rule:
    """Validate one rule line strictly: unknown keys, ids and values are errors."""
    if not isinstance(obj, dict):
        _fail(where, "a rule must be a JSON object")
    unknown = obj.keys() - _RULE_KEYS
    if unknown:
        _fail(where, f"unknown keys {sorted(unknown)}")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        _fail(where, "missing 'id'")
    label_key = KINDS[kind]
    label = obj.get(label_key)
    allowed = {"marker": lambda: load_taxonomy().marker_ids, "act": lambda: ACTS,
               "strategy": lambda: load_taxonomy().strategy_ids, "factor": lambda: FACTORS}[kind]()
    if label not in allowed:
        _fail(where, f"rule {obj['id']}: {label_key} {label!r} is not one of {list(allowed)}")
    ways = [k for k in ("phrases", "pattern", "check") if k in obj]
    if len(ways) != 1:
        _fail(where, f"rule {obj['id']}: give exactly one of phrases, pattern, check")
    weight = obj.get("weight", 1.0)
    if not isinstance(weight, (int, float)) or not 0 < weight <= 1:
        _fail(where, f"rule {obj['id']}: weight must be in (0, 1]")
    if "phrases" in obj and (not obj["phrases"] or not all(isinstance(p, str) and p.strip() for p in obj["phrases"])):
        _fail(where, f"rule {obj['id']}: phrases must be a non-empty list of strings")
    pattern = obj.get("pattern")
    if "pattern" in obj and (not isinstance(pattern, list) or not all(isinstance(t, dict) for t in pattern)):
        _fail(where, f"rule {obj['id']}: pattern must be a list of token dicts")
    params = obj.get("params", {})
    if "check" in obj:
        if obj["check"] not in CHECKS:
            _fail(where, f"rule {obj['id']}: unknown check {obj['check']!r}; known: {sorted(CHECKS)}")
        if set(params) - CHECKS[obj["check"]]:
            _fail(where, f"rule {obj['id']}: check {obj['check']} takes params {sorted(CHECKS[obj['check']])}")
    elif params:
        _fail(where, f"rule {obj['id']}: params only go with check")
    when = obj.get("when", {})
    for k, v in when.items():
        if k not in WHEN_KEYS or not isinstance(v, WHEN_KEYS[k]):
            _fail(where, f"rule {obj['id']}: bad condition {k!r}; known: {sorted(WHEN_KEYS)}")
        if k in ("after", "not_after") and set(v) - set(ACTS):
            _fail(where, f"rule {obj['id']}: unknown acts {sorted(set(v) - set(ACTS))}")
    suppress = obj.get("suppress", [])
    if set(suppress) - set(MODIFIER_CATEGORIES):
        unknown = sorted(set(suppress) - set(MODIFIER_CATEGORIES))
        _fail(where, f"rule {obj['id']}: unknown modifier categories {unknown}")
    dim = obj.get("dimension")
    if dim is not None and (kind != "marker" or dim not in DIMENSIONS):
        _fail(where, f"rule {obj['id']}: dimension must be one of {DIMENSIONS} (marker rules only)")
    return Rule(id=obj["id"], label=label, weight=float(weight),
                phrases=tuple(p.lower() for p in obj.get("phrases", ())),
                pattern=tuple(obj.get("pattern", ())), check=obj.get("check"), params=dict(params),
                when=dict(when), suppress=tuple(suppress), dimension=dim, note=obj.get("note", ""))


def _read_jsonl(text: str, name: str):
    for lineno, line in enumerate(text.split("\n"), start=1):
        if line.strip() and not line.lstrip().startswith("//"):
            try:
                yield f"{name}:{lineno}", json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFileError(f"{name}:{lineno}: malformed JSON: {err.msg}") from None


def _packaged(name: str) -> tuple[str, str]:
    return resources.files("rupture_detect").joinpath(f"data/rules/{name}").read_text("utf-8"), name


def load_rules(kind: str, path: str | Path | None = None) -> list[Rule]:
    """Rules of one kind (marker, act, strategy, factor), from the package or a file."""
    fname = {"marker": "markers.jsonl", "act": "acts.jsonl", "strategy": "strategies.jsonl",
             "factor": "factors.jsonl"}[kind]
    text, name = (Path(path).read_text("utf-8"), str(path)) if path else _packaged(fname)
    rules = [parse_rule(obj, where, kind) for where, obj in _read_jsonl(text, name)]
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise DataFileError(f"{name}: duplicate rule id {r.id!r}")
        seen.add(r.id)
    return rules


def load_modifiers(path: str | Path | None = None) -> list[Modifier]:
    text, name = (Path(path).read_text("utf-8"), str(path)) if path else _packaged("modifiers.jsonl")
    mods = []
    for where, obj in _read_jsonl(text, name):
        keys = {"id", "category", "phrases", "direction", "window"}
        if set(obj) != keys:
            _fail(where, f"modifier keys must be exactly {sorted(keys)}")
        if obj["category"] not in MODIFIER_CATEGORIES or obj["direction"] not in DIRECTIONS:
            _fail(where, f"modifier {obj['id']}: bad category or direction")
        if not isinstance(obj["window"], int) or obj["window"] < 0:
            _fail(where, f"modifier {obj['id']}: window must be a whole number >= 0")
        mods.append(Modifier(obj["id"], obj["category"], tuple(p.lower() for p in obj["phrases"]),
                             obj["direction"], obj["window"]))
    return mods


def compile_matchers(vocab, rules: list[Rule], prefix: str = ""):
    """One token Matcher and one PhraseMatcher (on LOWER) for all rules; keys are rule ids."""
    from spacy.matcher import Matcher, PhraseMatcher

    matcher = Matcher(vocab, validate=True)
    phrase = PhraseMatcher(vocab, attr="LOWER")
    make = phrase_tokenizer(vocab)
    for r in rules:
        key = prefix + r.id
        if r.pattern:
            try:
                matcher.add(key, [list(r.pattern)])
            except Exception as err:   # spaCy's own validation message is the useful part
                raise DataFileError(f"rule {r.id}: invalid token pattern: {err}") from None
        elif r.phrases:
            phrase.add(key, [make(p) for p in r.phrases])
    return matcher, phrase


def phrase_tokenizer(vocab):
    """Tokenise phrases exactly as the English tokenizer does, without running a pipeline."""
    import spacy
    nlp = spacy.blank("en", vocab=vocab)
    return nlp.make_doc
