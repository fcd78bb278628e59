"""The ``dialogue_acts`` component: what a practitioner turn does (asks, reflects, advises, lectures...).

Act spans go to ``doc.spans["dialogue_acts"]`` (label = act, ``span.id_`` =
rule id) and their labels to ``doc._.acts``; client turns are skipped. In any
English pipeline with a lemmatizer: ``nlp.add_pipe("dialogue_acts")``.
"""

from __future__ import annotations

from spacy.language import Language
from spacy.tokens import Doc, Span

from .matching import RuleComponent
from .rules import load_rules

_INVITING = {"open_question", "reflection", "empathy", "interpretation"}


class DialogueActs(RuleComponent):
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


@Language.factory("dialogue_acts", default_config={"rules_path": None})
def make_dialogue_acts(nlp: Language, name: str, rules_path: str | None):
    return DialogueActs(nlp, name, rules_path)
