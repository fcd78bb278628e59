"""The learned strategy detector: one logistic regression per strategy over the practitioner's words,
the client turn before, the rule scores and the dialogue acts; a threshold per strategy chosen on dev.
Without a trained detector the rules decide at 0.5.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from spacy.tokens import Doc

from ..nlp.matching import View, strongest_hits, text_of
from ..nlp.repair_strategies import SPANS_KEY
from ..nlp.rules import load_rules
from ..taxonomy import load_taxonomy
from .features import ACT_FEATURES, CompactTfidfVectorizer

RULE_THRESHOLD = 0.5


def strategy_rule_columns() -> list[str]:
    return [f"srule_{s}" for s in load_taxonomy().strategy_ids]


DENSE = ["log_words", "prev_flagged", *(f"act_{a}" for a in ACT_FEATURES)]


def therapist_row(doc: Doc) -> dict:
    prev = doc._.prev_client
    scores = doc._.strategy_scores or {}
    prev_rupture = prev._.rupture if prev is not None else None
    row = {"text": text_of(doc), "prev_text": text_of(prev),
           "log_words": math.log1p(View(doc).n_words), "prev_flagged": float(prev_rupture is not None)}
    row.update({f"act_{a}": float(a in doc._.acts) for a in ACT_FEATURES})
    row.update({col: scores.get(s, 0.0) for s, col in zip(load_taxonomy().strategy_ids, strategy_rule_columns())})
    return row


def strategy_pipeline(C: float = 8.0) -> Pipeline:
    vec = dict(token_pattern=r"(?u)\b\w[\w']*\b|[?!]", ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = ColumnTransformer([
        ("text", CompactTfidfVectorizer(max_features=20000, **vec), "text"),
        ("prev", CompactTfidfVectorizer(max_features=8000, **vec), "prev_text"),
        ("dense", StandardScaler(), DENSE),
        ("rules", "passthrough", strategy_rule_columns()),
    ])
    clf = OneVsRestClassifier(LogisticRegression(C=C, class_weight="balanced", max_iter=3000))
    return Pipeline([("features", features), ("clf", clf)])


def gold_matrix(labels: pd.Series) -> np.ndarray:
    ids = load_taxonomy().strategy_ids
    return np.array([[s in str(v).split(";") for s in ids] for v in labels], dtype=int)


def rule_matrix(docs: list[Doc]) -> np.ndarray:
    ids = load_taxonomy().strategy_ids
    return np.array([[(d._.strategy_scores or {}).get(s, 0.0) >= RULE_THRESHOLD for s in ids] for d in docs], dtype=int)


def choose_thresholds(proba: np.ndarray, Y: np.ndarray) -> list[float]:
    grid = np.round(np.arange(0.1, 0.91, 0.02), 2)
    return [float(grid[int(np.argmax([f1_score(Y[:, j], proba[:, j] >= t, zero_division=0) for t in grid]))])
            for j in range(Y.shape[1])]


def strategy_metrics(Y: np.ndarray, P: np.ndarray) -> dict:
    ids = load_taxonomy().strategy_ids
    per = f1_score(Y, P, average=None, zero_division=0)
    return {"macro_f1": float(np.mean(per)), "micro_f1": float(f1_score(Y, P, average="micro", zero_division=0)),
            "f1": {s: float(f) for s, f in zip(ids, per)}, "support": {s: int(n) for s, n in zip(ids, Y.sum(axis=0))}}


class StrategyDetector:
    """Strategies per therapist turn: the trained detector if given, else the rules."""

    def __init__(self, model=None, thresholds: list[float] | None = None):
        self.model = model
        self.thresholds = np.array(thresholds) if thresholds is not None else None
        self.ids = load_taxonomy().strategy_ids
        self.rules_by_id = {r.id: r for r in load_rules("strategy")}

    def detect(self, docs: list[Doc]) -> list[tuple[list[str], str]]:
        """(strategy ids, most probable first; evidence) for each therapist doc."""
        if not docs:
            return []
        if self.model is None:
            scores = np.array([[(d._.strategy_scores or {}).get(s, 0.0) for s in self.ids] for d in docs])
            chosen = scores >= RULE_THRESHOLD
        else:
            scores = self.model.predict_proba(pd.DataFrame([therapist_row(d) for d in docs]))
            chosen = scores >= self.thresholds
        out = []
        for d, row, pick in zip(docs, scores, chosen):
            order = [j for j in np.argsort(-row) if pick[j]]
            ids = [self.ids[j] for j in order]
            shown = strongest_hits([(self.rules_by_id[s.id_], s) for s in d.spans.get(SPANS_KEY, [])
                                    if s.label_ in ids])
            rules = "; ".join(f'{r.id} "{s.text}"' for r, s in sorted(shown, key=lambda h: h[1].start))
            model = ", ".join(f"{self.ids[j]} p={row[j]:.2f}" for j in order) if self.model is not None else ""
            out.append((ids, "; ".join(filter(None, [rules, model]))))
        return out
