"""The ``rupture_markers`` component: client withdrawal and confrontation markers by rule.

Every rule hit goes to ``doc.spans["rupture_markers"]`` (label = marker id,
``span.id_`` = rule id), per-marker scores to ``doc._.marker_scores`` and the
decision to ``doc._.rupture``. It reads context from ``doc._.prev_turn`` (the
preceding practitioner ``Doc`` with its ``acts``), ``doc._.cues`` (non-verbal
notes) and ``doc._.role`` (turns whose role is anything but ``client`` are
skipped). In any English pipeline with a lemmatizer, after ``dialogue_acts``::

    nlp.add_pipe("rupture_markers")
"""

from __future__ import annotations

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from ..decisions import RuleHit
from ..taxonomy import load_taxonomy
from .conversation import is_backchannel
from .extensions import Rupture
from .matching import RuleComponent, View, noisy_or, same_sentence, strongest_hits, text_of
from .rules import Rule, load_modifiers, load_rules, phrase_tokenizer


class RuptureMarkers(RuleComponent):
    spans_key = "rupture_markers"

    def __init__(self, nlp: Language, name: str = "rupture_markers", rules_path: str | None = None,
                 modifiers_path: str | None = None, threshold: float = 0.5):
        super().__init__(nlp, load_rules("marker", rules_path))
        self.name = name
        self.threshold = threshold
        self.taxonomy = load_taxonomy()
        self.modifiers = {m.id: m for m in load_modifiers(modifiers_path)}
        self.modifier_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        make = phrase_tokenizer(nlp.vocab)
        for m in self.modifiers.values():
            self.modifier_matcher.add(m.id, [make(p) for p in m.phrases])

    def _suppressed(self, rule: Rule, span: Span, mods, view: View) -> bool:
        for mod, mstart, mend in mods:
            if mod.category not in rule.suppress:
                continue
            if mod.direction == "turn":
                return True
            if mod.direction == "before" and mend <= span.start and span.start - mend <= mod.window \
                    and same_sentence(view, mstart, span.start):
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
        view = View(doc)             # one set of per-turn facts for the gates and the modifiers
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
        evidence = tuple(RuleHit(r.id, s.text, s.start_char, s.end_char) for r, s in mine)
        return scores, Rupture(marker.family, best, dimension, round(scores[best], 4), evidence)




@Language.factory("rupture_markers",
                  default_config={"rules_path": None, "modifiers_path": None, "threshold": 0.5})
def make_rupture_markers(nlp: Language, name: str, rules_path: str | None, modifiers_path: str | None,
                         threshold: float):
    return RuptureMarkers(nlp, name, rules_path, modifiers_path, threshold)
