"""The trained model: safe loading, training and evaluation on a small slice, fused scoring by default."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import skops.io as sio
from click.testing import CliRunner
from sklearn.preprocessing import FunctionTransformer

import rupture_detect as rd
from rupture_detect.cli import main
from rupture_detect.learn.classifier import UnsafeModelError, load_skops
from rupture_detect.learn.corpus import read_corpus
from rupture_detect.learn.evaluate import evaluate
from rupture_detect.learn.training import train
from rupture_detect.nlp.pipeline import models_dir

SHIPPED = models_dir() / "classifier"


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    """24 sessions of the corpus (16 train, 4 dev, 4 test) as one annotated table with a split column."""
    utts, sessions = read_corpus()
    picked = []
    for split, n in (("train", 16), ("dev", 4), ("test", 4)):
        picked += sessions.loc[sessions["split"] == split, "session_id"].head(n).tolist()
    split_of = sessions.set_index("session_id")["split"]
    table = utts[utts["session_id"].isin(picked)].drop(columns="line_no").assign(
        split=lambda d: d["session_id"].map(split_of))
    path = tmp_path_factory.mktemp("corpus") / "coded.jsonl"
    table.to_json(path, orient="records", lines=True)
    return path


@pytest.fixture(scope="module")
def small_model(small_corpus, tmp_path_factory, scorer):
    out = tmp_path_factory.mktemp("model")
    card = train(small_corpus, out, scorer, log=lambda m: None, folds=2, c_grid=(4.0,))
    return out, card


def test_training_writes_model_files_and_a_card(small_model):
    out, card = small_model
    assert {p.name for p in out.iterdir()} >= {"fused.skops", "model_only.skops", "strategies.skops",
                                                "context.skops", "model_card.json"}
    assert card["context_model"]["type"] == "HistGradientBoostingClassifier"
    assert set(card["split_sizes"]) == {"train", "dev", "test"}
    assert card["split_sizes"]["train"]["sessions"] == 16
    assert 0 < card["thresholds"]["fused"] < 1 and len(card["strategies"]["thresholds"]) == 10
    assert set(card["calibration"]["fused"]) == {"a", "b"} and card["calibration"]["fused"]["a"] > 0
    assert len(card["data_sha256"]) == 64 and "not a diagnostic" in card["limits"].lower()
    assert set(card["versions"]) >= {"spacy", "scikit-learn", "skops"}


def test_evaluation_reports_every_system_on_held_out_sessions(small_model, small_corpus, scorer):
    out, _ = small_model
    results = evaluate(small_corpus, out, scorer, split="test")
    assert results["sessions"] == 4
    for system in ("rules", "model", "fused"):
        m = results[system]
        assert 0 <= m["family_macro_f1"] <= 1 and -1 <= m["family_kappa"] <= 1
        assert set(m["subtype"]) == set(rd.load_taxonomy().marker_ids)
        assert sum(map(sum, m["family_confusion"]["matrix"])) == m["n_client_turns"]
        if system != "rules":
            cal = m["p_marker_calibration"]
            assert 0 <= cal["brier"] <= 1 and 0 <= cal["ece"] <= 1
    assert results["strategies"]["n_therapist_turns"] > 0 and "model" in results["strategies"]


def test_training_without_a_split_uses_grouped_cross_validation(small_corpus, scorer, tmp_path):
    table = pd.read_json(small_corpus, lines=True)
    table = table[table["split"] == "train"].drop(columns="split")
    path = tmp_path / "mine.csv"
    table.to_csv(path, index=False)
    result = CliRunner().invoke(main, ["train", str(path), "-o", str(tmp_path / "m"), "--folds", "2"])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "m" / "model_card.json").read_text())
    assert "cross-validation grouped by session" in card["evaluation"] and "all" in card["split_sizes"]


def test_calibration_keeps_the_ranking_and_the_probabilities_valid():
    import numpy as np

    from rupture_detect.learn.classifier import apply_calibration
    proba = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.05, 0.05, 0.9]])
    out = apply_calibration(proba, ["none", "denial", "defends_self"], {"a": 0.5, "b": -1.0})
    assert np.allclose(out.sum(axis=1), 1.0) and (out >= 0).all()
    assert list(np.argsort(1 - out[:, 0])) == list(np.argsort(1 - proba[:, 0])), "P(marker) order kept"
    assert np.allclose(out[:, 1] / out[:, 2], proba[:, 1] / proba[:, 2]), "shares between markers kept"


def test_loading_refuses_types_outside_the_allow_list(tmp_path):
    evil = tmp_path / "evil.skops"
    sio.dump(FunctionTransformer(func=os.system), evil)
    with pytest.raises(UnsafeModelError, match="allow-list"):
        load_skops(evil)


def test_shipped_model_loads_safely_and_scoring_uses_it_by_default(samples):
    assert (SHIPPED / "model_card.json").exists()
    for name in ("fused.skops", "model_only.skops", "strategies.skops"):
        load_skops(SHIPPED / name)
    card = json.loads((SHIPPED / "model_card.json").read_text())
    test = card["figures"]["corpus (test)"]              # written by `evaluate --record`, never by hand
    assert test["fused"]["family_macro_f1"] > test["rules"]["family_macro_f1"]
    assert set(test["by_style"]) == {"textbook", "asr", "verbatim"}
    from rupture_detect.writers.manifest import rules_digest
    assert card["rules_sha256"] == rules_digest(), "the shipped model was trained with other rules: retrain"
    import hashlib

    from rupture_detect.learn.corpus import corpus_dir
    digest = hashlib.sha256()
    for name in ("corpus.jsonl", "sessions.jsonl"):
        digest.update((corpus_dir() / name).read_bytes())
    assert card["data_sha256"] == digest.hexdigest(), "the shipped model was trained on another corpus: retrain"
    scorer = rd.make_scorer()
    assert scorer.model is not None and scorer.strategies.model is not None
    result = rd.score(samples / "cbt_homework.txt")
    client = result.utterances[result.utterances["speaker"] == "client"]
    assert client["confidence"].between(0, 1).all()
    assert client.loc[client["marker"] != "none", "evidence"].str.contains("model p=").all()


def test_evaluate_record_writes_the_figures_into_the_card(small_model, small_corpus, tmp_path):
    import shutil
    out, _ = small_model
    model = tmp_path / "model"
    shutil.copytree(out, model)
    result = CliRunner().invoke(main, ["evaluate", str(small_corpus), "--model", str(model), "--split", "test",
                                       "--record"])
    assert result.exit_code == 0, result.output
    card = json.loads((model / "model_card.json").read_text())
    entry = card["figures"][f"{small_corpus} (test)"]
    assert entry["sessions"] == 4 and 0 <= entry["fused"]["family_kappa"] <= 1
    assert {"marker_precision", "marker_recall", "none_flagged", "family_ac1"} <= set(entry["fused"])


def test_evaluate_command_prints_a_report_and_json(small_model, small_corpus):
    out, _ = small_model
    text = CliRunner().invoke(main, ["evaluate", str(small_corpus), "--model", str(out), "--split", "test"])
    assert text.exit_code == 0 and "family macro-F1" in text.output and "confusion" in text.output
    js = CliRunner().invoke(main, ["evaluate", str(small_corpus), "--model", str(out), "--split", "test", "--json"])
    assert json.loads(js.output)["fused"]["n_client_turns"] > 0
    bad = CliRunner().invoke(main, ["evaluate", str(small_corpus), "--model", str(out), "--split", "nope"])
    assert bad.exit_code == 2 and "no client turns in split" in bad.output
