"""Training: from an annotated table to a saved, calibrated, thresholded model and its card.

With a split (the project's corpus has a fixed one): fit on ``train``; choose
the regularisation, calibrate the probabilities and choose the flagging
threshold on ``dev``; report on ``test``. Without one (a researcher's own
coding): the same, with one fold of a cross-validation grouped by session
held out as dev. Sessions never straddle train and dev.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ..readers.formats import read_file
from ..readers.transcript import SpeakerRoles
from ..writers.manifest import rules_digest
from .classifier import (
    CARD_NAME,
    CONTEXT_MODEL,
    DIMENSION_MODEL,
    LABEL_MODEL,
    STRATEGY_MODEL,
    TEXT_ONLY_MODEL,
    apply_calibration,
    context_frame,
    family_blend,
    save_skops,
)
from .corpus import corpus_dir
from .features import CompactTfidfVectorizer, dense_columns, frame, rule_columns

TOKENS = r"(?u)\b\w[\w']*\b|[?!]"
C_GRID = (16.0, 64.0)
FOLDS = 5


@dataclass
class Labelled:
    """Turns of an annotated table: docs and gold labels (one row per doc), client and therapist."""
    docs: list
    gold: pd.DataFrame      # session_id, turn, split, label (none or marker id), family, dimension
    therapist_docs: list
    therapist_gold: pd.DataFrame    # session_id, turn, split, strategy (ids joined by ';')


def session_style(meta: dict) -> str:
    """``textbook``, ``asr`` or ``verbatim``: how a corpus session was written (older lines carry only ``asr``)."""
    return str(meta.get("style") or ("asr" if meta.get("asr") else "textbook"))


def load_labelled(path: str | Path, scorer) -> Labelled:
    """Score an annotated table (or corpus folder) with the rules and keep client turns with gold labels
    (a client turn whose marker cell is empty has none and is left out)."""
    path = Path(path)
    table = path / "corpus.jsonl" if path.is_dir() else path
    splits, styles = {}, {}
    meta = path / "sessions.jsonl" if path.is_dir() else None
    if meta is not None and meta.exists():
        for line in meta.open(encoding="utf-8"):
            if line.strip():
                m = json.loads(line)
                splits[m["session_id"]] = m.get("split", "")
                styles[m["session_id"]] = session_style(m)
    docs, rows, tdocs, trows = [], [], [], []
    for transcript in read_file(table, SpeakerRoles()):
        line_docs, units = scorer.prepare(transcript)
        unit_doc = {i: d for d, pieces in units for i in pieces}     # each client line is judged with its unit
        for i, (u, doc) in enumerate(zip(transcript.utterances, line_docs)):
            doc = unit_doc.get(i, doc)
            split = splits.get(u.session_id, str(u.extra.get("split") or ""))
            if u.speaker == "therapist":
                tdocs.append(doc)
                trows.append({"session_id": u.session_id, "turn": u.turn, "split": split,
                              "strategy": str(u.extra.get("strategy") or "")})
            if u.speaker != "client" or not _coded(u.extra):
                continue
            subtype = str(u.extra.get("subtype") or "")
            family = str(u.extra.get("marker") or "none")
            docs.append(doc)
            rows.append({"session_id": u.session_id, "turn": u.turn, "split": split,
                         "label": subtype if family != "none" and subtype else "none", "family": family,
                         "dimension": str(u.extra.get("dimension") or ""),
                         "style": styles.get(u.session_id) or str(u.extra.get("style") or "") or "table"})
    return Labelled(docs, pd.DataFrame(rows), tdocs,
                    pd.DataFrame(trows, columns=["session_id", "turn", "split", "strategy"]))


def _coded(extra: dict) -> bool:
    """A client turn carries a code unless its table has a marker column left empty there (a turn a review did
    not code: no gold, so it is neither trained on nor evaluated). Tables without the column code every turn
    ``none``, as before."""
    return "marker" not in extra or bool(str(extra["marker"] or "").strip())


def _vectorizer(max_features: int) -> CompactTfidfVectorizer:
    return CompactTfidfVectorizer(token_pattern=TOKENS, ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                           max_features=max_features, dtype=np.float64)


def _context_features(with_rules: bool, extra: list | None = None) -> ColumnTransformer:
    parts = [
        ("text", _vectorizer(30000), "text"),
        ("chars", CompactTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True,
                                  max_features=50000, dtype=np.float64), "text"),
        ("prev", _vectorizer(10000), "prev_text"),
        *(extra or []),
        ("dense", StandardScaler(), dense_columns()),
    ]
    if with_rules:     # rule scores in [0, 1], unscaled: scaling them up let the model over-trust them on dev
        parts.append(("rules", "passthrough", rule_columns()))
    return ColumnTransformer(parts)


def label_pipeline(with_rules: bool, C: float) -> Pipeline:
    features = _context_features(with_rules)
    return Pipeline([("features", features),
                     ("clf", LogisticRegression(C=C, class_weight="balanced", max_iter=3000))])


def dimension_pipeline(with_rules: bool) -> Pipeline:
    features = _context_features(with_rules, [("subtype", OneHotEncoder(handle_unknown="ignore"), ["subtype"])])
    return Pipeline([("features", features), ("clf", LogisticRegression(C=4.0, max_iter=3000))])


def family_of(labels: pd.Series | np.ndarray) -> np.ndarray:
    from ..taxonomy import load_taxonomy
    tax = load_taxonomy()
    return np.array([tax.family_of(x) if x != "none" else "none" for x in labels])


def family_decisions(proba: np.ndarray, classes: list[str], threshold: float) -> np.ndarray:
    fam = family_of(classes)
    p_marker = 1.0 - proba[:, classes.index("none")]
    w, c = proba[:, fam == "withdrawal"].sum(axis=1), proba[:, fam == "confrontation"].sum(axis=1)
    return np.where(p_marker >= threshold, np.where(w >= c, "withdrawal", "confrontation"), "none")


PLATEAU = 0.01     # thresholds scoring within this of the best on dev are equally good


def choose_threshold(proba: np.ndarray, classes: list[str], gold_family) -> float:
    """The threshold on P(marker) in the middle of the plateau of best family macro-F1 on held-out predictions.

    On dev the curve is flat over a wide range (0.746-0.756 from 0.29 to 0.50 in one training); its argmax
    lands anywhere on that plateau from one retraining to the next (0.28 or 0.43 for the same corpus), and
    the edge of it over-flags new text. The middle of the thresholds within :data:`PLATEAU` of the best is
    as good on dev and stable.
    """
    grid = np.round(np.arange(0.15, 0.86, 0.01), 2)
    scores = np.array([f1_score(gold_family, family_decisions(proba, classes, t), average="macro", zero_division=0)
                       for t in grid])
    good = grid[scores >= scores.max() - PLATEAU]
    return float(np.round(np.median(good), 2))


def _group_splits(y, groups, folds: int = FOLDS) -> list:
    return list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=0).split(np.zeros(len(y)), y, groups))


def calibrate(proba: np.ndarray, classes: list[str], family_dev) -> dict:
    """Platt scaling of P(marker) on held-out sessions: ``{"a", "b"}`` for sigmoid(a * logit(p) + b).

    The label model is trained with balanced class weights, which is what
    makes rare markers findable but inflates their scores. Calibrating each of
    the 15 classes one-vs-rest (sklearn's CalibratedClassifierCV) squashed the
    rare markers and cost 0.44 subtype macro-F1 on dev. One monotone map of
    P(marker) keeps every ranking and makes the flag probability honest.
    """
    from .classifier import marker_probability
    p = marker_probability(proba, classes)
    z = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    lr = LogisticRegression(C=1e4).fit(z.reshape(-1, 1), np.asarray(family_dev) != "none")
    return {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}


def _dev_score(proba, classes, gold: pd.DataFrame) -> tuple[float, float]:
    """Family macro-F1 (at the best threshold) and subtype macro-F1 of held-out probabilities."""
    t = choose_threshold(proba, classes, gold["family"])
    fam = f1_score(gold["family"], family_decisions(proba, classes, t), average="macro")
    markers = [c for c in classes if c != "none"]
    sub = f1_score(gold["label"], np.array(classes)[proba.argmax(axis=1)], labels=markers, average="macro",
                   zero_division=0)
    return fam, sub


def _tuning_split(gold: pd.DataFrame, folds: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """(train, dev) indices: the table's own split, else a held-out 1/folds of sessions."""
    if set(gold["split"]) >= {"train", "dev"}:
        return np.flatnonzero(gold["split"] == "train"), np.flatnonzero(gold["split"] == "dev"), True
    train_idx, dev_idx = _group_splits(gold["label"], gold["session_id"], folds)[0]
    return np.sort(train_idx), np.sort(dev_idx), False


CONTEXT_PARAMS = {"max_depth": 3, "learning_rate": 0.05, "max_iter": 300, "l2_regularization": 1.0}


def _train_context(X: pd.DataFrame, gold: pd.DataFrame, train_idx, C: float, folds: int, log):
    """The context model: gradient-boosted trees over the label model's out-of-fold view of the words, the
    conversation cues and the transcript's talk style, predicting the family. Trees can learn what a linear
    model cannot: that a long answer means something else in verbatim talk than in a textbook excerpt, and
    that the same words weigh more after a lecture than after an open question."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    Xt, yt = X.iloc[train_idx], gold["label"].iloc[train_idx]
    classes = sorted(set(yt))
    oof = np.zeros((len(train_idx), len(classes)))
    for k, (a, b) in enumerate(_group_splits(yt, gold["session_id"].iloc[train_idx], folds)):
        pipe = label_pipeline(True, C).fit(Xt.iloc[a], yt.iloc[a])
        cols = [classes.index(c) for c in pipe.classes_]
        oof[np.ix_(b, cols)] = pipe.predict_proba(Xt.iloc[b])
        log(f"  context model: out-of-fold label probabilities, fold {k + 1}/{folds}")
    model = HistGradientBoostingClassifier(random_state=0, **CONTEXT_PARAMS)
    return model.fit(context_frame(oof, classes, Xt), gold["family"].iloc[train_idx].values)


def train(data: str | Path, out_dir: str | Path, scorer, log=print, folds: int = FOLDS,
          c_grid: tuple = C_GRID, context: bool = True) -> dict:
    """Train both variants (fused with rule features, and words-and-context only) and write the model folder.

    Each variant: fit on train for every C in the grid, keep the C with the best
    dev family + subtype macro-F1; the fused variant then gets a context model
    (:func:`_train_context`) over out-of-fold label probabilities; calibrate
    P(marker) on dev, and choose the flagging threshold on dev.
    """
    data = Path(data)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lab = load_labelled(data, scorer)
    X, gold = frame(lab.docs), lab.gold
    train_idx, dev_idx, has_split = _tuning_split(gold, folds)
    Xt, yt = X.iloc[train_idx], gold["label"].iloc[train_idx]
    Xd, gd = X.iloc[dev_idx], gold.iloc[dev_idx]
    card = {"thresholds": {}, "C": {}, "folds": folds}
    for variant, with_rules, fname in (("fused", True, LABEL_MODEL), ("model_only", False, TEXT_ONLY_MODEL)):
        best = None
        for C in c_grid:
            pipe = label_pipeline(with_rules, C).fit(Xt, yt)
            fam, sub = _dev_score(pipe.predict_proba(Xd), list(pipe.classes_), gd)
            log(f"  {variant} C={C}: dev family macro-F1 {fam:.3f}, subtype macro-F1 {sub:.3f}")
            if best is None or fam + sub > best[0]:
                best = (fam + sub, C, pipe)
        _, C, pipe = best
        classes = list(pipe.classes_)
        raw = pipe.predict_proba(Xd)
        if variant == "fused" and context:
            ctx = _train_context(X, gold, train_idx, C, folds, log)
            save_skops(ctx, out / CONTEXT_MODEL)
            card["context_model"] = {"type": "HistGradientBoostingClassifier", "trained_on": "out-of-fold label-model "
                                     "probabilities on train, grouped by session", **CONTEXT_PARAMS}
            raw = family_blend(raw, classes, ctx.predict_proba(context_frame(raw, classes, Xd)), list(ctx.classes_))
        calibration = calibrate(raw, classes, gd["family"])
        proba = apply_calibration(raw, classes, calibration)
        threshold = choose_threshold(proba, list(pipe.classes_), gd["family"])
        save_skops(pipe, out / fname)
        card["thresholds"][variant], card["C"][variant] = threshold, C
        card.setdefault("calibration", {})[variant] = calibration
        log(f"{variant}: C={C}, calibrated on dev, threshold {threshold:.2f}")
    card["dimension_source"] = _train_dimension(X, gold, train_idx, dev_idx if has_split else None, out, log)
    strategies = _train_strategies(lab, has_split, out, log, folds)
    if strategies is not None:          # without strategy codes (a review export) the rules detect strategies
        card["strategies"] = strategies
    card.update(_card_facts(data, gold, has_split))
    (out / CARD_NAME).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card


def _train_dimension(X, gold, train_idx, dev_idx, out: Path, log) -> str:
    """A dimension model on flagged turns if it beats the taxonomy's usual dimension on dev."""
    from ..taxonomy import load_taxonomy
    usual = {m: d.dimension for m, d in load_taxonomy().markers.items()}
    flagged = gold["label"] != "none"
    tr = [i for i in train_idx if flagged.iloc[i]]
    Xd = X.assign(subtype=gold["label"].values)
    model = dimension_pipeline(True).fit(Xd.iloc[tr], gold["dimension"].iloc[tr])
    if dev_idx is None:
        save_skops(model, out / DIMENSION_MODEL)
        return "model"
    dv = [i for i in dev_idx if flagged.iloc[i]]
    acc_model = float((model.predict(Xd.iloc[dv]) == gold["dimension"].iloc[dv].values).mean())
    acc_prior = float((gold["label"].iloc[dv].map(usual).values == gold["dimension"].iloc[dv].values).mean())
    log(f"dimension on dev (gold subtype): model {acc_model:.3f}, usual dimension {acc_prior:.3f}")
    if acc_model > acc_prior:
        save_skops(model, out / DIMENSION_MODEL)
        return "model"
    return "prior"


def _train_strategies(lab: Labelled, has_split: bool, out: Path, log, folds: int) -> dict | None:
    """The strategy detector: fit on train therapist turns, per-strategy thresholds on dev (or out of fold).
    None, and no detector, when the table codes no strategy at all (the model then detects them by rules)."""
    from .strategy_model import choose_thresholds, gold_matrix, strategy_metrics, strategy_pipeline, therapist_row
    Y = gold_matrix(lab.therapist_gold["strategy"])
    if not Y.any():
        log("strategies: no strategy codes in this table; the strategy rules will detect them")
        return None
    X = pd.DataFrame([therapist_row(d) for d in lab.therapist_docs])
    split = lab.therapist_gold["split"].values
    tr = np.flatnonzero(split == "train") if has_split else np.arange(len(X))
    model = strategy_pipeline().fit(X.iloc[tr], Y[tr])
    if has_split:
        dv = np.flatnonzero(split == "dev")
        proba, Yd = model.predict_proba(X.iloc[dv]), Y[dv]
    else:
        groups = lab.therapist_gold["session_id"].values[tr]
        proba, Yd = np.zeros(Y.shape, dtype=float), Y
        for a, b in StratifiedGroupKFold(n_splits=folds).split(np.zeros(len(tr)), Y.argmax(axis=1), groups):
            proba[b] = strategy_pipeline().fit(X.iloc[a], Y[a]).predict_proba(X.iloc[b])
    thresholds = choose_thresholds(proba, Yd)
    tuned = strategy_metrics(Yd, (proba >= np.array(thresholds)).astype(int))
    log(f"strategies: {'dev' if has_split else 'cross-validated'} macro-F1 {tuned['macro_f1']:.3f}")
    save_skops(model, out / STRATEGY_MODEL)
    return {"thresholds": thresholds, "tuning_macro_f1": tuned["macro_f1"]}


def _card_facts(data: Path, gold: pd.DataFrame, has_split: bool) -> dict:
    import sklearn
    import skops
    import spacy
    files = [data / "corpus.jsonl", data / "sessions.jsonl"] if data.is_dir() else [data]
    digest = hashlib.sha256()
    for f in files:
        if f.exists():
            digest.update(f.read_bytes())
    sizes = {s: {"sessions": int(g["session_id"].nunique()), "client_turns": len(g)}
             for s, g in gold.groupby("split")} if has_split else {
        "all": {"sessions": int(gold["session_id"].nunique()), "client_turns": len(gold)}}
    return {
        "data": str(data.relative_to(corpus_dir().parents[2]) if data.is_relative_to(corpus_dir().parents[2])
                    else data.name),
        "data_sha256": digest.hexdigest(),
        "rules_sha256": rules_digest(),
        "split_sizes": sizes,
        "evaluation": ("held-out test split" if has_split else
                       "no split given: tuned and calibrated on a held-out fold of sessions "
                       "(cross-validation grouped by session); evaluate on separate sessions"),
        "versions": {"python": platform.python_version(), "spacy": spacy.__version__,
                     "scikit-learn": sklearn.__version__, "skops": skops.__version__},
        "intended_use": ("Research, supervision and training support: flags possible alliance-rupture markers "
                         "in anonymised psychotherapy transcripts as prompts for human reflection."),
        "limits": ("Not a diagnostic or clinical decision tool. Trained on a synthetic corpus written for this "
                   "project (textbook, speech-recognition and verbatim styles; no real transcripts), so figures "
                   "measured on it are upper bounds for real sessions; on real verbatim sessions (the AnnoMI "
                   "development set) it is far weaker: see the evaluation figures. English only; one-to-one "
                   "sessions only; judges each client turn (with the pieces it was cut into) in the context of "
                   "the practitioner's preceding turns, not whole episodes."),
    }
