"""What the rule components share: per-turn facts, ``when`` gates, whole-turn checks and rule fusion.

:class:`RuleComponent` compiles a list of :class:`~rupture_detect.nlp.rules.Rule`
into spaCy matchers and returns the (rule, span) hits that hold in a turn.
"""

from __future__ import annotations

import numpy as np
from spacy.attrs import IS_ALPHA, IS_PUNCT, IS_SPACE, IS_STOP, LEMMA, LENGTH, LOWER, SENT_START
from spacy.language import Language
from spacy.strings import get_string_id
from spacy.tokens import Doc, Span

from . import extensions  # noqa: F401  the Doc extensions the checks read
from .rules import Rule, compile_matchers

_FILLERS = {"so", "and", "but", "well", "um", "uh", "erm", "er", "okay", "ok", "oh", "right", "now",
            "hmm", "mm", "like", "anyway", "just"}


class View:
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


def _when_holds(rule: Rule, view: View, start: int, prev_acts: frozenset) -> bool:
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


def same_sentence(view: View, i: int, j: int) -> bool:
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
        arr = doc.to_array([LEMMA, IS_ALPHA, IS_STOP, LENGTH])     # no Token objects: this is a hot path
        keep = arr[(arr[:, 1] == 1) & (arr[:, 2] == 0) & (arr[:, 3] > 2), 0] if len(doc) else arr[:0, 0]
        strings = doc.vocab.strings
        cached = {strings[h].lower() for h in set(keep.tolist())}
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


class RuleComponent:
    """Shared machinery: matchers over rules, `when` gates and whole-turn checks."""

    def __init__(self, nlp: Language, rules: list[Rule]):
        self.rules = {r.id: r for r in rules}
        self.checks = [r for r in rules if r.check]
        self.check_ids = {r.id: {k: frozenset(get_string_id(w) for w in v)
                                 for k, v in r.params.items() if isinstance(v, list)} for r in self.checks}
        self.matcher, self.phrase_matcher = compile_matchers(nlp.vocab, rules)
        self.has_patterns = len(self.matcher) > 0

    def hits(self, doc: Doc, prev: Doc | None, prev_acts: frozenset,
             view: View | None = None) -> list[tuple[Rule, Span]]:
        view = view or View(doc)
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
