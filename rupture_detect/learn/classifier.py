"""The trained model: how it decides, and how it is saved and loaded safely.

Fusion of rules and model is stacking: every rule's score for every marker is
a feature of the *fused* model, beside the client's words, the therapist turn
it answers and dense context cues. The model outputs
probabilities over ``none`` plus the 14 marker ids (trained with balanced
class weights so rare markers are found), rescaled so that P(marker) =
1 - P(none) is calibrated on the dev split (Platt scaling, parameters in the
model card); a family's probability is the sum of its markers'. A turn is
flagged when P(marker) reaches the threshold chosen on the dev split; its subtype is the most
probable marker of the more probable family, and ``confidence`` is that
family's probability. The dimension comes from a second model (or the
taxonomy's usual dimension, whichever did better on dev). The ``evidence``
column lists the rules that fired and the model's probability.

Models are saved with skops and loaded with an explicit allow-list of types:
a file holding any other type is refused, never executed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..decisions import Decision, Evidence
from ..taxonomy import load_taxonomy
from .features import frame

CARD_NAME = "model_card.json"
LABEL_MODEL = "fused.skops"
TEXT_ONLY_MODEL = "model_only.skops"
DIMENSION_MODEL = "dimension.skops"
STRATEGY_MODEL = "strategies.skops"
CONTEXT_MODEL = "context.skops"

# Types a saved model may hold beyond the scikit-learn and numpy types that skops itself trusts.
# Anything else in a file (a function, a foreign class) is refused before loading.
TRUSTED_TYPES = frozenset({
    "rupture_detect.learn.features.CompactTfidfVectorizer",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",     # the context model's trees (data only)
})


def marker_probability(proba: np.ndarray, classes: list[str]) -> np.ndarray:
    return 1.0 - proba[:, classes.index("none")]


def apply_calibration(proba: np.ndarray, classes: list[str], calibration: dict | None) -> np.ndarray:
    """Rescale class probabilities so that P(marker) is calibrated; shares within marker/none are kept."""
    if not calibration:
        return proba
    p = np.clip(marker_probability(proba, classes), 1e-6, 1 - 1e-6)
    cal = 1.0 / (1.0 + np.exp(-(calibration["a"] * np.log(p / (1 - p)) + calibration["b"])))
    none = classes.index("none")
    out = proba * (cal / p)[:, None]
    out[:, none] = 1.0 - cal
    return out


def context_frame(proba: np.ndarray, classes: list[str], X):
    """The context model's input: the label model's view of the words (log-odds of a marker, the two
    family probabilities) beside the dense context cues and rule scores (see :mod:`rupture_detect.learn.features`)."""
    import pandas as pd

    from .features import dense_columns, rule_columns
    tax = load_taxonomy()
    fam = np.array([tax.family_of(c) if c != "none" else "none" for c in classes])
    p = np.clip(marker_probability(proba, classes), 1e-6, 1 - 1e-6)
    words = pd.DataFrame({"words_logit": np.log(p / (1 - p)), "words_withdrawal": proba[:, fam == "withdrawal"].sum(1),
                          "words_confrontation": proba[:, fam == "confrontation"].sum(1)}, index=X.index)
    cols = [c for c in dense_columns() + rule_columns() if c in X]
    return pd.concat([words, X[cols]], axis=1)


def family_blend(proba: np.ndarray, classes: list[str], family_proba: np.ndarray, families: list[str]) -> np.ndarray:
    """Class probabilities whose family totals are the context model's, shared out within each family
    as the label model shares them (the subtype still comes from the words)."""
    tax = load_taxonomy()
    fam = np.array([tax.family_of(c) if c != "none" else "none" for c in classes])
    out = np.zeros_like(proba)
    out[:, classes.index("none")] = family_proba[:, families.index("none")]
    for f in ("withdrawal", "confrontation"):
        m = fam == f
        within = proba[:, m] / np.clip(proba[:, m].sum(axis=1, keepdims=True), 1e-12, None)
        out[:, m] = within * family_proba[:, [families.index(f)]]
    return out


class UnsafeModelError(ValueError):
    """A model file holds types outside the allow-list."""


def load_skops(path: Path):
    import skops.io as sio
    untrusted = sio.get_untrusted_types(file=path)
    refused = sorted(set(untrusted) - TRUSTED_TYPES)
    if refused:
        raise UnsafeModelError(f"{path}: refusing to load: it holds types outside the allow-list: {refused}")
    return sio.load(path, trusted=sorted(set(untrusted)))


def save_skops(obj, path: Path) -> None:
    import skops.io as sio
    tmp = path.with_name(f".{path.name}.tmp")
    sio.dump(obj, tmp)
    refused = sorted(set(sio.get_untrusted_types(file=tmp)) - TRUSTED_TYPES)
    if refused:
        tmp.unlink()
        raise UnsafeModelError(f"{path}: model holds types outside the allow-list: {refused}")
    tmp.replace(path)


class FusedModel:
    """Label model (+ optional dimension model) with the dev-chosen threshold."""

    def __init__(self, label_model, threshold: float, with_rules: bool = True, dimension_model=None,
                 card: dict | None = None, calibration: dict | None = None, context_model=None):
        self.label_model = label_model
        self.context_model = context_model
        self.calibration = calibration
        self.threshold = threshold
        self.with_rules = with_rules
        self.dimension_model = dimension_model
        self.card = card or {}
        self.strategy_detector = None
        tax = load_taxonomy()
        self.classes = list(label_model.classes_)
        self.family_of = np.array([tax.family_of(c) if c != "none" else "none" for c in self.classes])
        self.usual_dimension = {m: tax.markers[m].dimension for m in tax.marker_ids}

    @classmethod
    def load(cls, path: str | Path, variant: str = "fused") -> FusedModel:
        path = Path(path)
        card_path = path / CARD_NAME
        if not card_path.exists():
            raise FileNotFoundError(f"{path}: not a model folder (no {CARD_NAME})")
        card = json.loads(card_path.read_text("utf-8"))
        name = LABEL_MODEL if variant == "fused" else TEXT_ONLY_MODEL
        label_model = load_skops(path / name)
        dim_path = path / DIMENSION_MODEL
        dim = load_skops(dim_path) if card.get("dimension_source") == "model" and dim_path.exists() else None
        threshold = card["thresholds"][variant]
        ctx_path = path / CONTEXT_MODEL
        context = load_skops(ctx_path) if variant == "fused" and card.get("context_model") and ctx_path.exists() \
            else None
        model = cls(label_model, threshold, with_rules=(variant == "fused"), dimension_model=dim, card=card,
                    calibration=card.get("calibration", {}).get(variant), context_model=context)
        if "strategies" in card and (path / STRATEGY_MODEL).exists():
            from .strategy_model import StrategyDetector
            model.strategy_detector = StrategyDetector(load_skops(path / STRATEGY_MODEL),
                                                       card["strategies"]["thresholds"])
        return model

    def probabilities(self, docs) -> tuple[np.ndarray, object]:
        X = frame(docs)
        return self.probabilities_of(X), X

    def probabilities_of(self, X) -> np.ndarray:
        """Calibrated class probabilities: the label model's, or, with a context model, its family totals
        shared out by the label model."""
        proba = self.label_model.predict_proba(X)
        if self.context_model is not None:
            families = list(self.context_model.classes_)
            proba = family_blend(proba, self.classes, self.context_model.predict_proba(
                context_frame(proba, self.classes, X)), families)
        return apply_calibration(proba, self.classes, self.calibration)

    def decide(self, docs) -> list[Decision]:
        if not docs:
            return []
        proba, X = self.probabilities(docs)
        p_none = proba[:, self.classes.index("none")]
        p_with = proba[:, self.family_of == "withdrawal"].sum(axis=1)
        p_conf = proba[:, self.family_of == "confrontation"].sum(axis=1)
        gated = np.array([bool(d._.gate) for d in docs])
        flagged = ((1.0 - p_none) >= self.threshold) & ~gated
        families = np.where(p_with >= p_conf, "withdrawal", "confrontation")
        subtypes = []
        for i, fam in enumerate(families):
            masked = np.where(self.family_of == fam, proba[i], -1.0)
            subtypes.append(self.classes[int(masked.argmax())])
        dims = self._dimensions(X, subtypes, flagged)
        out = []
        for i, doc in enumerate(docs):
            hits = doc._.rupture.evidence if doc._.rupture is not None else ()
            p = round(float(1.0 - p_none[i]), 4)
            if flagged[i]:
                fam = families[i]
                conf = float(p_with[i] if fam == "withdrawal" else p_conf[i])
                out.append(Decision(str(fam), subtypes[i], dims[i], round(conf, 4), Evidence(hits, p), p_marker=p))
            else:
                gate = doc._.gate if gated[i] and p >= self.threshold else None
                ev = Evidence(hits, p, gate) if hits or gate else Evidence()
                out.append(Decision("none", confidence=round(float(p_none[i]), 4), evidence=ev, p_marker=p))
        return out

    def _dimensions(self, X, subtypes: list[str], flagged) -> list[str]:
        dims = [self.usual_dimension[s] for s in subtypes]
        if self.dimension_model is not None and flagged.any():
            idx = np.flatnonzero(flagged)
            Xd = X.iloc[idx].assign(subtype=[subtypes[i] for i in idx])
            for i, d in zip(idx, self.dimension_model.predict(Xd)):
                dims[i] = str(d)
        return dims
