"""Agreement between the tool and a gold-annotated table, for rules only, model only and fused.

Per family (none / withdrawal / confrontation) and per subtype: precision,
recall and F1; macro-F1; Cohen's kappa; dimension accuracy on turns both
sides flagged with the same family; and the family confusion matrix. The unit
is the client turn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, confusion_matrix, f1_score, precision_recall_fscore_support

from ..run.scoring import rules_decision
from ..taxonomy import load_taxonomy
from .agreement import gwet_ac1

FAMILY_LABELS = ["none", "withdrawal", "confrontation"]
HEADLINE = (("family_macro_f1", "family macro-F1"), ("family_kappa", "family kappa"),
            ("family_ac1", "family Gwet's AC1"), ("marker_precision", "marker precision"),
            ("marker_recall", "marker recall"), ("none_flagged", "share of none turns flagged"),
            ("flag_rate", "share of client turns flagged"), ("subtype_macro_f1", "subtype macro-F1"),
            ("subtype_kappa", "subtype kappa"), ("dimension_accuracy", "dimension accuracy"))
SYSTEMS = ("rules", "model", "fused")


def metrics(gold: pd.DataFrame, pred: pd.DataFrame) -> dict:
    """``gold`` and ``pred`` have columns family, label (none or marker id), dimension; aligned rows."""
    markers = list(load_taxonomy().marker_ids)
    out: dict = {"n_client_turns": len(gold)}
    p, r, f, s = precision_recall_fscore_support(gold["family"], pred["family"], labels=FAMILY_LABELS,
                                                 zero_division=0)
    out["family"] = {lab: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
                     for i, lab in enumerate(FAMILY_LABELS)}
    out["family_macro_f1"] = float(np.mean(f))
    out["family_kappa"] = float(cohen_kappa_score(gold["family"], pred["family"]))
    p, r, f, s = precision_recall_fscore_support(gold["label"], pred["label"], labels=markers, zero_division=0)
    out["subtype"] = {lab: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])}
                      for i, lab in enumerate(markers)}
    out["subtype_macro_f1"] = float(f1_score(gold["label"], pred["label"], labels=markers, average="macro",
                                             zero_division=0))
    out["subtype_kappa"] = float(cohen_kappa_score(gold["label"], pred["label"]))
    both = (gold["family"].values != "none") & (gold["family"].values == pred["family"].values)
    out["dimension_accuracy"] = float((gold["dimension"].values[both] == pred["dimension"].values[both]).mean()) \
        if both.any() else float("nan")
    out["dimension_n"] = int(both.sum())
    gold_m, pred_m = gold["family"].values != "none", pred["family"].values != "none"
    out["marker_precision"] = float((gold_m & pred_m).sum() / pred_m.sum()) if pred_m.any() else float("nan")
    out["marker_recall"] = float((gold_m & pred_m).sum() / gold_m.sum()) if gold_m.any() else float("nan")
    out["none_flagged"] = float(pred_m[~gold_m].mean()) if (~gold_m).any() else float("nan")
    out["flag_rate"] = float(pred_m.mean()) if len(pred_m) else float("nan")
    out["family_ac1"] = gwet_ac1(gold["family"].values, pred["family"].values)
    out["family_confusion"] = {"labels": FAMILY_LABELS,
                               "matrix": confusion_matrix(gold["family"], pred["family"],
                                                          labels=FAMILY_LABELS).tolist()}
    return out


def calibration_error(is_marker: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    """Brier score and expected calibration error (equal-width bins) of P(marker)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    ece = sum(abs(p[idx == b].mean() - is_marker[idx == b].mean()) * (idx == b).mean()
              for b in range(bins) if (idx == b).any())
    return {"brier": float(np.mean((p - is_marker) ** 2)), "ece": float(ece)}


def _frame(decisions) -> pd.DataFrame:
    return pd.DataFrame({"family": [d.family for d in decisions],
                         "label": [d.subtype if d.family != "none" else "none" for d in decisions],
                         "dimension": [d.dimension for d in decisions]})


def evaluate(gold_path: str | Path, model_dir: str | Path | None, scorer, split: str | None = None,
             systems=SYSTEMS) -> dict:
    """Metrics per system on a gold table (a corpus folder's ``split``, or the whole table)."""
    from .classifier import FusedModel
    from .training import load_labelled
    lab = load_labelled(gold_path, scorer)
    keep = np.arange(len(lab.docs))
    if split:
        keep = np.flatnonzero(lab.gold["split"].values == split)
        if not len(keep):
            raise ValueError(f"{gold_path}: no client turns in split {split!r}")
    docs = [lab.docs[i] for i in keep]
    gold = lab.gold.iloc[keep].reset_index(drop=True)
    results = {"gold": str(gold_path), "split": split or "all", "sessions": int(gold["session_id"].nunique())}
    for system in systems:
        if system == "rules":
            decisions = [rules_decision(d) for d in docs]
        else:
            if model_dir is None:
                continue
            decisions = FusedModel.load(model_dir, "fused" if system == "fused" else "model_only").decide(docs)
        pred = _frame(decisions)
        results[system] = metrics(gold, pred)
        if decisions and decisions[0].p_marker is not None:
            results[system]["p_marker_calibration"] = calibration_error(
                (gold["family"] != "none").to_numpy(dtype=float), np.array([d.p_marker for d in decisions]))
        for style, idx in gold.groupby("style").indices.items():
            if len(gold) > len(idx):        # several styles: each gets its own figures
                per = metrics(gold.iloc[idx].reset_index(drop=True), pred.iloc[idx].reset_index(drop=True))
                if decisions and decisions[0].p_marker is not None:
                    per["p_marker_calibration"] = calibration_error(
                        (gold["family"].iloc[idx] != "none").to_numpy(dtype=float),
                        np.array([decisions[i].p_marker for i in idx]))
                results.setdefault("by_style", {}).setdefault(style, {"sessions": int(
                    gold["session_id"].iloc[idx].nunique())})[system] = per
    results["strategies"] = _strategy_results(lab, split, model_dir)
    return results


def _strategy_results(lab, split: str | None, model_dir) -> dict:
    """Strategy detection on therapist turns: rules alone and the trained detector."""
    from .classifier import FusedModel
    from .strategy_model import StrategyDetector, gold_matrix, rule_matrix, strategy_metrics
    keep = [i for i, s in enumerate(lab.therapist_gold["split"].values) if not split or s == split]
    docs = [lab.therapist_docs[i] for i in keep]
    Y = gold_matrix(lab.therapist_gold["strategy"].iloc[keep])
    if not Y.any():
        return {}                    # no strategy codes in this gold (the AnnoMI set codes client turns only)
    out = {"n_therapist_turns": len(docs), "rules": strategy_metrics(Y, rule_matrix(docs))}
    detector = FusedModel.load(model_dir).strategy_detector if model_dir is not None else None
    if detector is not None:
        ids = StrategyDetector().ids
        found = detector.detect(docs)
        P = [[s in chosen for s in ids] for chosen, _ in found]
        out["model"] = strategy_metrics(Y, __import__("numpy").array(P, dtype=int))
    return out


def format_report(results: dict) -> str:
    systems = [s for s in SYSTEMS if s in results]
    lines = [f"gold: {results['gold']} (split: {results['split']}, {results['sessions']} sessions, "
             f"{results[systems[0]]['n_client_turns']} client turns)", ""]
    head = f"{'':<30}" + "".join(f"{s:>10}" for s in systems)
    lines += [head, "-" * len(head)]
    for key, label in HEADLINE:
        lines.append(f"{label:<30}" + "".join(f"{results[s][key]:>10.3f}" for s in systems))
    cal = [s for s in systems if "p_marker_calibration" in results[s]]
    for key, label in (("brier", "P(marker) Brier score"), ("ece", "P(marker) calibration error")):
        if cal:
            lines.append(f"{label:<30}" + "".join(
                f"{results[s]['p_marker_calibration'][key]:>10.3f}" if s in cal else f"{'-':>10}"
                for s in systems))
    lines += ["", "F1 per family / subtype:", head, "-" * len(head)]
    for fam in FAMILY_LABELS:
        lines.append(f"{fam:<30}" + "".join(f"{results[s]['family'][fam]['f1']:>10.3f}" for s in systems))
    for sub in load_taxonomy().marker_ids:
        lines.append(f"  {sub:<28}" + "".join(f"{results[s]['subtype'][sub]['f1']:>10.3f}" for s in systems))
    strat = results.get("strategies")
    if strat:
        names = [k for k in ("rules", "model") if k in strat]
        lines += ["", f"strategy detection on {strat['n_therapist_turns']} therapist turns (F1):",
                  f"{'':<30}" + "".join(f"{n:>10}" for n in names)]
        lines.append(f"{'macro-F1':<30}" + "".join(f"{strat[n]['macro_f1']:>10.3f}" for n in names))
        for sid in load_taxonomy().strategy_ids:
            lines.append(f"  {sid:<28}" + "".join(f"{strat[n]['f1'][sid]:>10.3f}" for n in names))
    for style, per in (results.get("by_style") or {}).items():
        n = per[systems[0]]["n_client_turns"]
        lines += ["", f"style {style} ({per['sessions']} sessions, {n} client turns):", head, "-" * len(head)]
        for key, label in HEADLINE:
            lines.append(f"{label:<30}" + "".join(f"{per[s][key]:>10.3f}" for s in systems))
        cal = [s for s in systems if "p_marker_calibration" in per[s]]
        if cal:
            lines.append(f"{'P(marker) calibration error':<30}" + "".join(
                f"{per[s]['p_marker_calibration']['ece']:>10.3f}" if s in cal else f"{'-':>10}" for s in systems))
    best = systems[-1]
    cm = results[best]["family_confusion"]
    lines += ["", f"family confusion ({best}; rows gold, columns predicted):",
              f"{'':<16}" + "".join(f"{c:>15}" for c in cm["labels"])]
    for lab, row in zip(cm["labels"], cm["matrix"]):
        lines.append(f"{lab:<16}" + "".join(f"{v:>15}" for v in row))
    return "\n".join(lines)


def record_figures(model_dir: str | Path, name: str, results: dict) -> None:
    """Write the headline figures of an evaluation into the model card (``figures[name]``), atomically."""
    import json
    path = Path(model_dir) / "model_card.json"
    card = json.loads(path.read_text("utf-8"))
    keys = [k for k, _ in HEADLINE]
    entry = {"sessions": results["sessions"]}
    for system in SYSTEMS:
        if system in results:
            entry[system] = {k: results[system][k] for k in keys}
            entry[system]["n_client_turns"] = results[system]["n_client_turns"]
            if "p_marker_calibration" in results[system]:
                entry[system]["p_marker_ece"] = results[system]["p_marker_calibration"]["ece"]
    for style, per in (results.get("by_style") or {}).items():
        entry.setdefault("by_style", {})[style] = {"sessions": per["sessions"], **{
            system: {k: per[system][k] for k in keys} for system in SYSTEMS if system in per}}
    card.setdefault("figures", {})[name] = entry
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
