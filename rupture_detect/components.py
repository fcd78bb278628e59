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

from spacy.language import Language
from spacy.tokens import Doc, Span

from .rules import Rule, compile_matchers, load_modifiers, load_rules
from .taxonomy import load_taxonomy

_FILLERS = {"so", "and", "but", "well", "um", "uh", "erm", "er", "okay", "ok", "oh", "right", "now",
            "hmm", "mm", "like", "anyway", "just"}
_INVITING = {"open_question", "reflection", "empathy", "interpretation"}

for _name, _default in (("prev_turn", None), ("acts", frozenset()), ("rupture", None),
                        ("marker_scores", None), ("cues", ()), ("role", None)):
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


def _n_words(doc: Doc) -> int:
    return sum(1 for t in doc if not (t.is_punct or t.is_space))


def _lead_is_filler(doc: Doc, start: int, origin: int) -> bool:
    """True when tokens origin..start are at most two fillers or punctuation."""
    gap = [t for t in doc[origin:start] if not t.is_punct]
    return len(gap) <= 2 and all(t.lower_ in _FILLERS for t in gap)


def _when_holds(rule: Rule, doc: Doc, start: int, prev_acts: frozenset, n_words: int) -> bool:
    w = rule.when
    if not w:
        return True
    if "after" in w and not prev_acts.intersection(w["after"]):
        return False
    if "not_after" in w and prev_acts.intersection(w["not_after"]):
        return False
    if n_words > w.get("max_words", n_words) or n_words < w.get("min_words", 0):
        return False
    if w.get("turn_start") and not _lead_is_filler(doc, start, 0):
        return False
    if w.get("sent_start") and not _lead_is_filler(doc, start, doc[start].sent.start if doc.has_annotation("SENT_START") else 0):
        return False
    if "cue" in w and not set(doc._.cues).intersection(w["cue"]):
        return False
    return True


def content_lemmas(doc: Doc) -> set[str]:
    return {t.lemma_.lower() for t in doc if t.is_alpha and not t.is_stop and len(t) > 2}


# ---------------------------------------------------------------- whole-turn checks

def _check_short_reply(doc, rule, prev, n_words):
    words = rule.params.get("words", ())
    if 0 < n_words <= rule.params.get("max_words", 3) and all(
            t.is_punct or t.lower_ in words or t.lemma_.lower() in words for t in doc):
        return doc[:]
    return None


def _check_low_overlap(doc, rule, prev, n_words):
    if prev is None or n_words < rule.params.get("min_words", 25):
        return None
    asked = content_lemmas(prev)
    if not asked:
        return None
    shared = len(asked & content_lemmas(doc)) / len(asked)
    return doc[:] if shared <= rule.params.get("max_overlap", 0.0) else None


def _check_laugh_with_distress(doc, rule, prev, n_words):
    laughs = set(rule.params.get("laughs", ()))
    laughed = laughs.intersection(doc._.cues) or any(t.lower_ in laughs for t in doc)
    if not laughed:
        return None
    words = set(rule.params.get("words", ()))
    for t in doc:
        if t.lower_ in words or t.lemma_.lower() in words:
            return doc[t.i:t.i + 1]
    return None


def _check_question_mark(doc, rule, prev, n_words):
    for sent in (doc.sents if doc.has_annotation("SENT_START") else [doc[:]]):
        if sent.text.rstrip().endswith("?"):
            return sent
    return None


_CHECK_FUNCS = {"short_reply": _check_short_reply, "low_overlap": _check_low_overlap,
                "laugh_with_distress": _check_laugh_with_distress, "question_mark": _check_question_mark}


class _RuleComponent:
    """Shared machinery: matchers over rules, `when` gates and whole-turn checks."""

    def __init__(self, nlp: Language, rules: list[Rule]):
        self.rules = {r.id: r for r in rules}
        self.checks = [r for r in rules if r.check]
        self.matcher, self.phrase_matcher = compile_matchers(nlp.vocab, rules)

    def hits(self, doc: Doc, prev: Doc | None, prev_acts: frozenset) -> list[tuple[Rule, Span]]:
        n_words = _n_words(doc)
        found = []
        strings = doc.vocab.strings
        for match_id, start, end in [*self.matcher(doc), *self.phrase_matcher(doc)]:
            rule = self.rules[strings[match_id]]
            if _when_holds(rule, doc, start, prev_acts, n_words):
                found.append((rule, doc[start:end]))
        for rule in self.checks:
            if not _when_holds(rule, doc, 0, prev_acts, n_words):
                continue
            span = _CHECK_FUNCS[rule.check](doc, rule, prev, n_words)
            if span is not None:
                found.append((rule, span))
        return found


class DialogueActs(_RuleComponent):
    spans_key = "dialogue_acts"

    def __init__(self, nlp: Language, name: str = "dialogue_acts", rules_path: str | None = None):
        super().__init__(nlp, load_rules("act", rules_path))
        self.name = name

    def __call__(self, doc: Doc) -> Doc:
        hits = self.hits(doc, None, frozenset())
        doc.spans[self.spans_key] = [Span(doc, s.start, s.end, label=r.label, span_id=r.id) for r, s in hits]
        acts = {r.label for r, _ in hits}
        if {"open_question", "closed_question"} & acts:
            acts.add("question")
        if "open_question" in acts or (acts & _INVITING and "closed_question" not in acts):
            acts.add("invitation")
        doc._.acts = frozenset(acts)
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

    def _suppressed(self, rule: Rule, span: Span, mods) -> bool:
        for mod, mstart, mend in mods:
            if mod.category not in rule.suppress:
                continue
            if mod.direction == "turn":
                return True
            if mod.direction == "before" and mend <= span.start and span.start - mend <= mod.window \
                    and span.doc[mstart].sent == span.sent:
                return True
            if mod.direction == "after" and mstart >= span.end and mstart - span.end <= mod.window:
                return True
        return False

    def __call__(self, doc: Doc) -> Doc:
        if doc._.role not in (None, "client"):      # therapist turns carry no client markers
            doc.spans[self.spans_key] = []
            doc._.marker_scores, doc._.rupture = {}, None
            return doc
        prev = doc._.prev_turn
        prev_acts = prev._.acts if prev is not None else frozenset()
        hits = self.hits(doc, prev, prev_acts)
        if hits and any(r.suppress for r, _ in hits):
            strings = doc.vocab.strings
            mods = [(self.modifiers[strings[i]], s, e) for i, s, e in self.modifier_matcher(doc)]
            if mods:
                hits = [(r, s) for r, s in hits if not self._suppressed(r, s, mods)]
        doc.spans[self.spans_key] = [Span(doc, s.start, s.end, label=r.label, span_id=r.id) for r, s in hits]
        doc._.marker_scores, doc._.rupture = self.decide(hits)
        return doc

    def decide(self, hits: list[tuple[Rule, Span]]) -> tuple[dict, Rupture | None]:
        """Noisy-or of rule weights per marker; the best marker above the threshold wins."""
        miss: dict[str, float] = {}
        for rule, _ in hits:
            miss[rule.label] = miss.get(rule.label, 1.0) * (1.0 - rule.weight)
        scores = {m: 1.0 - p for m, p in miss.items()}
        if not scores:
            return scores, None
        best = max(scores, key=lambda m: (scores[m], m))
        if scores[best] < self.threshold:
            return scores, None
        mine = sorted(((r, s) for r, s in hits if r.label == best), key=lambda h: -h[0].weight)
        marker = self.taxonomy.markers[best]
        dimension = next((r.dimension for r, _ in mine if r.dimension), marker.dimension)
        evidence = tuple(dict.fromkeys((r.id, s.text) for r, s in mine))
        return scores, Rupture(marker.family, best, dimension, round(scores[best], 4), evidence)


@Language.factory("dialogue_acts", default_config={"rules_path": None})
def make_dialogue_acts(nlp: Language, name: str, rules_path: str | None):
    return DialogueActs(nlp, name, rules_path)


@Language.factory("rupture_markers",
                  default_config={"rules_path": None, "modifiers_path": None, "threshold": 0.5})
def make_rupture_markers(nlp: Language, name: str, rules_path: str | None, modifiers_path: str | None,
                         threshold: float):
    return RuptureMarkers(nlp, name, rules_path, modifiers_path, threshold)
