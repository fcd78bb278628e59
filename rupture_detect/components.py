"""spaCy components: ``dialogue_acts`` and ``rupture_markers``.

Both are registered through the ``spacy_factories`` entry point, so in any
English pipeline with a lemmatizer::

    nlp.add_pipe("dialogue_acts")
    nlp.add_pipe("rupture_markers")

``dialogue_acts`` puts act spans in ``doc.spans["dialogue_acts"]`` and their
labels in ``doc._.acts``. ``rupture_markers`` puts every rule hit in
``doc.spans["rupture_markers"]`` (label = marker id, ``span.id_`` = rule id),
per-marker scores in ``doc._.marker_scores`` and the decision in
``doc._.rupture``. It reads context from ``doc._.prev_turn`` (the preceding
therapist ``Doc``, if the caller sets it), ``doc._.cues`` (non-verbal notes)
and ``doc._.role`` (docs whose role is set to anything but ``client`` are
skipped); without them, context-dependent rules simply do not fire.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spacy.attrs import IS_PUNCT, IS_SPACE, LEMMA, LOWER, SENT_START
from spacy.language import Language
from spacy.strings import get_string_id
from spacy.tokens import Doc, Span

from .conversation import is_backchannel
from .rules import Rule, compile_matchers, load_modifiers, load_rules
from .taxonomy import load_taxonomy

_FILLERS = {"so", "and", "but", "well", "um", "uh", "erm", "er", "okay", "ok", "oh", "right", "now",
            "hmm", "mm", "like", "anyway", "just"}
_INVITING = {"open_question", "reflection", "empathy", "interpretation"}

for _name, _default in (("prev_turn", None), ("acts", frozenset()), ("rupture", None),
                        ("marker_scores", None), ("cues", ()), ("role", None),
                        ("next_turn", None), ("prev_client", None),
                        ("prev_turns", ()),      # the last (up to 3) substantive practitioner turns, newest first
                        ("n_pieces", 1),         # lines of the transcript this client unit was joined from
                        ("gate", None),          # why this unit can carry no marker (conversation.gate)
                        ("talk", None)):         # the transcript's talk style (conversation.talk_style)
    if not Doc.has_extension(_name):
        Doc.set_extension(_name, default=_default)


@dataclass(frozen=True, slots=True)
class Rupture:
    """The decision for one client turn."""
    family: str
    subtype: str
    dimension: str
    confidence: float
    evidence: tuple[tuple[str, str], ...]     # (rule id, matched text)


class _View:
    """Per-turn facts computed at most once, in C where possible (no Token objects on the hot path)."""

    __slots__ = ("doc", "_n_words", "_starts", "_lower", "_lemma")

    def __init__(self, doc: Doc):
        self.doc = doc
        self._n_words = self._starts = self._lower = self._lemma = None

    @property
    def n_words(self) -> int:
        if self._n_words is None:
            doc = self.doc
            self._n_words = len(doc) - int(doc.to_array([IS_PUNCT, IS_SPACE]).any(axis=1).sum()) if len(doc) else 0
        return self._n_words

    def sent_start(self, i: int) -> int:
        """Index of the first token of the sentence holding token ``i`` (0 without sentence marks)."""
        if self._starts is None:
            self._starts = np.flatnonzero(self.doc.to_array(SENT_START) == 1)
        k = int(np.searchsorted(self._starts, i, side="right")) - 1
        return int(self._starts[k]) if k >= 0 else 0

    def has(self, ids: frozenset, lemma: bool = False) -> list[int]:
        """Token positions whose lower form (or lemma) is among ``ids`` (string hashes)."""
        if self._lower is None:
            self._lower = self.doc.to_array(LOWER).tolist()
        if ids.isdisjoint(self._lower):
            found = []
        else:
            found = [i for i, h in enumerate(self._lower) if h in ids]
        if lemma:
            if self._lemma is None:
                self._lemma = self.doc.to_array(LEMMA).tolist()
            if not ids.isdisjoint(self._lemma):
                found = sorted(set(found) | {i for i, h in enumerate(self._lemma) if h in ids})
        return found


def _lead_is_filler(doc: Doc, start: int, origin: int) -> bool:
    """True when tokens origin..start are at most two fillers or punctuation."""
    if start - origin > 4:
        return False
    gap = [t for t in doc[origin:start] if not t.is_punct]
    return len(gap) <= 2 and all(t.lower_ in _FILLERS for t in gap)


def _when_holds(rule: Rule, view: _View, start: int, prev_acts: frozenset) -> bool:
    w = rule.when
    if not w:
        return True
    if "after" in w and not prev_acts.intersection(w["after"]):
        return False
    if "not_after" in w and prev_acts.intersection(w["not_after"]):
        return False
    if ("max_words" in w or "min_words" in w) and not (
            w.get("min_words", 0) <= view.n_words <= w.get("max_words", view.n_words)):
        return False
    if w.get("turn_start") and not _lead_is_filler(view.doc, start, 0):
        return False
    if w.get("sent_start") and not _lead_is_filler(view.doc, start, view.sent_start(start)):
        return False
    if "cue" in w and not set(view.doc._.cues).intersection(w["cue"]):
        return False
    return True


def _same_sentence(view: _View, i: int, j: int) -> bool:
    return view.sent_start(i) == view.sent_start(j)


def text_of(doc: Doc | None) -> str:
    """The doc's text; the scorer stores the source string so this never rebuilds it token by token."""
    if doc is None:
        return ""
    return doc.user_data.get(("rupture_detect", "text")) or doc.text


def content_lemmas(doc: Doc) -> set[str]:
    """Lower-cased lemmas of the content words (cached on the doc: a therapist turn is asked often)."""
    cached = doc.user_data.get(("rupture_detect", "content"))
    if cached is None:
        cached = {t.lemma_.lower() for t in doc if t.is_alpha and not t.is_stop and len(t) > 2}
        doc.user_data[("rupture_detect", "content")] = cached
    return cached


# ---------------------------------------------------------------- whole-turn checks

def _check_short_reply(view, rule, prev, ids):
    doc, words = view.doc, rule.params.get("words", ())
    if 0 < view.n_words <= rule.params.get("max_words", 3) and all(
            t.is_punct or t.lower_ in words or t.lemma_.lower() in words for t in doc):
        return doc[:]
    return None


def _check_low_overlap(view, rule, prev, ids):
    doc = view.doc
    if prev is None or view.n_words < rule.params.get("min_words", 25):
        return None
    asked = content_lemmas(prev)
    if not asked:
        return None
    shared = len(asked & content_lemmas(doc)) / len(asked)
    return doc[:] if shared <= rule.params.get("max_overlap", 0.0) else None


def _check_laugh_with_distress(view, rule, prev, ids):
    laughed = set(rule.params.get("laughs", ())).intersection(view.doc._.cues) or len(view.has(ids["laughs"]))
    if not laughed:
        return None
    hits = view.has(ids["words"], lemma=True)
    return view.doc[hits[0]:hits[0] + 1] if len(hits) else None


_QMARK = frozenset({get_string_id("?")})


def _check_question_mark(view, rule, prev, ids):
    found = view.has(_QMARK)
    return view.doc[view.sent_start(found[0]):found[0] + 1] if found else None


def _check_long_turn(view, rule, prev, ids):
    return view.doc[:] if view.n_words >= rule.params.get("min_words", 60) else None


_CHECK_FUNCS = {"long_turn": _check_long_turn, "short_reply": _check_short_reply, "low_overlap": _check_low_overlap,
                "laugh_with_distress": _check_laugh_with_distress, "question_mark": _check_question_mark}


def strongest_hits(hits: list[tuple[Rule, Span]]) -> list[tuple[Rule, Span]]:
    """Drop matches of a rule that overlap a longer match of the same rule.

    "Just tell me", "tell me what to do" and "just tell me what to do" are one
    piece of evidence, not three; two separate cues of one rule ("people tend
    to ... human nature") still count twice.
    """
    kept: list[tuple[Rule, Span]] = []
    for rule, span in sorted(hits, key=lambda h: -len(h[1])):
        if not any(r.id == rule.id and s.start < span.end and span.start < s.end for r, s in kept):
            kept.append((rule, span))
    return kept


def noisy_or(hits: list[tuple[Rule, Span]]) -> dict[str, float]:
    """Per label, 1 - prod(1 - weight) over the (distinct) rules that fired."""
    miss: dict[str, float] = {}
    for rule, _ in hits:
        miss[rule.label] = miss.get(rule.label, 1.0) * (1.0 - rule.weight)
    return {label: 1.0 - p for label, p in miss.items()}


class _RuleComponent:
    """Shared machinery: matchers over rules, `when` gates and whole-turn checks."""

    def __init__(self, nlp: Language, rules: list[Rule]):
        self.rules = {r.id: r for r in rules}
        self.checks = [r for r in rules if r.check]
        self.check_ids = {r.id: {k: frozenset(get_string_id(w) for w in v)
                                 for k, v in r.params.items() if isinstance(v, list)} for r in self.checks}
        self.matcher, self.phrase_matcher = compile_matchers(nlp.vocab, rules)
        self.has_patterns = len(self.matcher) > 0

    def hits(self, doc: Doc, prev: Doc | None, prev_acts: frozenset,
             view: _View | None = None) -> list[tuple[Rule, Span]]:
        view = view or _View(doc)
        found = []
        strings = doc.vocab.strings
        matches = self.phrase_matcher(doc)
        if self.has_patterns:
            matches = [*self.matcher(doc), *matches]
        for match_id, start, end in matches:
            rule = self.rules[strings[match_id]]
            if _when_holds(rule, view, start, prev_acts):
                found.append((rule, doc[start:end]))
        for rule in self.checks:
            if not _when_holds(rule, view, 0, prev_acts):
                continue
            span = _CHECK_FUNCS[rule.check](view, rule, prev, self.check_ids[rule.id])
            if span is not None:
                found.append((rule, span))
        return found


class DialogueActs(_RuleComponent):
    spans_key = "dialogue_acts"

    def __init__(self, nlp: Language, name: str = "dialogue_acts", rules_path: str | None = None):
        super().__init__(nlp, load_rules("act", rules_path))
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        if ext.role == "client":       # client turns need markers, not acts
            doc.spans[self.spans_key] = []
            return doc
        hits = self.hits(doc, None, frozenset())
        longest: dict[int, int] = {}       # among matched phrases, "how many" beats "how" at one start
        for rule, span in hits:
            if not rule.check:
                longest[span.start] = max(longest.get(span.start, 0), len(span))
        hits = [(r, s) for r, s in hits if r.check or len(s) == longest[s.start]]
        doc.spans[self.spans_key] = [Span(doc, s.start, s.end, label=r.label, span_id=r.id) for r, s in hits]
        acts = {r.label for r, _ in hits}
        if {"open_question", "closed_question"} & acts:
            acts.add("question")
        if "open_question" in acts or (acts & _INVITING and "closed_question" not in acts):
            acts.add("invitation")
        ext.acts = frozenset(acts)
        return doc


class RuptureMarkers(_RuleComponent):
    spans_key = "rupture_markers"

    def __init__(self, nlp: Language, name: str = "rupture_markers", rules_path: str | None = None,
                 modifiers_path: str | None = None, threshold: float = 0.5):
        super().__init__(nlp, load_rules("marker", rules_path))
        self.name = name
        self.threshold = threshold
        self.taxonomy = load_taxonomy()
        self.modifiers = {m.id: m for m in load_modifiers(modifiers_path)}
        from spacy.matcher import PhraseMatcher

        from .rules import _phrase_tokenizer
        self.modifier_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        make = _phrase_tokenizer(nlp.vocab)
        for m in self.modifiers.values():
            self.modifier_matcher.add(m.id, [make(p) for p in m.phrases])

    def _suppressed(self, rule: Rule, span: Span, mods, view: _View) -> bool:
        for mod, mstart, mend in mods:
            if mod.category not in rule.suppress:
                continue
            if mod.direction == "turn":
                return True
            if mod.direction == "before" and mend <= span.start and span.start - mend <= mod.window \
                    and _same_sentence(view, mstart, span.start):
                return True
            if mod.direction == "after" and mstart >= span.end and mstart - span.end <= mod.window:
                return True
        return False

    def __call__(self, doc: Doc) -> Doc:
        ext = doc._
        if ext.role not in (None, "client"):      # therapist turns carry no client markers
            doc.spans[self.spans_key] = []
            ext.marker_scores, ext.rupture = {}, None
            return doc
        prev = ext.prev_turn
        prev_acts = prev._.acts if prev is not None else frozenset()
        view = _View(doc)             # one set of per-turn facts for the gates and the modifiers
        hits = self.hits(doc, prev, prev_acts, view)
        if hits and any(r.suppress for r, _ in hits):
            strings = doc.vocab.strings
            mods = [(self.modifiers[strings[i]], s, e) for i, s, e in self.modifier_matcher(doc)]
            if mods:
                hits = [(r, s) for r, s in hits if not self._suppressed(r, s, mods, view)]
        doc.spans[self.spans_key] = [Span(doc, s.start, s.end, label=r.label, span_id=r.id) for r, s in hits]
        ext.marker_scores, ext.rupture = self.decide(hits)
        if ext.rupture is not None and is_backchannel(text_of(doc)):
            ext.rupture = None          # a lone backchannel is never a marker (real talk); its scores stay as features
        return doc

    def decide(self, hits: list[tuple[Rule, Span]]) -> tuple[dict, Rupture | None]:
        """Noisy-or of rule weights per marker (each rule counts once); the best marker above the threshold wins."""
        longest = strongest_hits(hits)
        scores = noisy_or(longest)
        if not scores:
            return scores, None
        best = max(scores, key=lambda m: (scores[m], m))
        if scores[best] < self.threshold:
            return scores, None
        mine = sorted(((r, s) for r, s in longest if r.label == best), key=lambda h: -h[0].weight)
        marker = self.taxonomy.markers[best]
        dimension = next((r.dimension for r, _ in mine if r.dimension), marker.dimension)
        evidence = tuple((r.id, s.text) for r, s in mine)
        return scores, Rupture(marker.family, best, dimension, round(scores[best], 4), evidence)


@Language.factory("dialogue_acts", default_config={"rules_path": None})
def make_dialogue_acts(nlp: Language, name: str, rules_path: str | None):
    return DialogueActs(nlp, name, rules_path)


@Language.factory("rupture_markers",
                  default_config={"rules_path": None, "modifiers_path": None, "threshold": 0.5})
def make_rupture_markers(nlp: Language, name: str, rules_path: str | None, modifiers_path: str | None,
                         threshold: float):
    return RuptureMarkers(nlp, name, rules_path, modifiers_path, threshold)
