"""End to end: review a corpus slice through the server, export, retrain on the export, evaluate, score."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from review_support import Api

import rupture_detect as rd
from rupture_detect.cli import main
from rupture_detect.learn.corpus import read_corpus
from rupture_detect.review.app import Workspace
from rupture_detect.review.queue import from_scores
from rupture_detect.review.server import ReviewServer
from rupture_detect.review.store import Store
from rupture_detect.taxonomy import FAMILIES


@pytest.mark.slow
def test_a_team_retrains_on_its_own_review(tmp_path):
    utts, sessions = read_corpus()
    picked = sessions.loc[sessions["split"] == "train", "session_id"].head(16).tolist()
    table = utts[utts["session_id"].isin(picked)]
    gold = {(r.session_id, str(r.turn)): (r.marker, r.subtype, r.dimension)
            for r in table.itertuples() if r.speaker == "client"}
    scores = rd.score(table[["session_id", "turn", "speaker", "text"]], model=None)     # the tool's flags (rules)
    review = from_scores(scores, "corpus slice")
    db = tmp_path / "review.sqlite"
    server = ReviewServer(Workspace(Store(db), review), "supervisor").start()
    api = Api(server, "supervisor")
    actions = {}
    try:               # the supervisor codes what the corpus's coders coded: confirm, correct, add what was missed
        for sid, turns in review.sessions.items():
            for u in turns:
                if u["speaker"] != "client":
                    continue
                want = gold[(sid, u["turn"])]
                if u["marker"] in FAMILIES:
                    tool = (u["marker"], u["subtype"], u["dimension"])
                    action = "reject" if want[0] == "none" else "accept" if tool == want else "relabel"
                elif want[0] != "none":
                    action = "missed"
                else:
                    continue
                code = dict(zip(("marker", "subtype", "dimension"), want)) if action in ("relabel", "missed") else {}
                api.decide(sid, u["turn"], action, text_hash=u["hash"], **code)
                actions[action] = actions.get(action, 0) + 1
    finally:
        server.stop()
    assert set(actions) == {"accept", "reject", "relabel", "missed"}, actions

    codes = tmp_path / "codes.csv"
    runner = CliRunner()
    exported = runner.invoke(main, ["review", "export", "--db", str(db), "-o", str(codes), "--unflagged-as-none"])
    assert exported.exit_code == 0, exported.output
    out = pd.read_csv(codes, dtype=str, keep_default_na=False)
    client = out[out["speaker"] == "client"]
    assert len(client) == len(gold)
    assert {(r.session_id, r.turn): (r.marker, r.subtype, r.dimension) for r in client.itertuples()} == gold

    model = tmp_path / "team_model"
    trained = runner.invoke(main, ["train", str(codes), "-o", str(model), "--folds", "2"])
    assert trained.exit_code == 0, trained.output
    card = json.loads((model / "model_card.json").read_text())
    assert card["data"] == "codes.csv" and card["split_sizes"] == {"all": {"sessions": 16, "client_turns": len(gold)}}
    assert "strategies" not in card and not (model / "strategies.skops").exists()       # no strategy codes

    evaluated = runner.invoke(main, ["evaluate", str(codes), "--model", str(model), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    results = json.loads(evaluated.output)
    assert results["fused"]["n_client_turns"] == len(gold) and results["gold"] == f"{codes} (reviewer supervisor)"
    assert results["fused"]["family_macro_f1"] > results["rules"]["family_macro_f1"] - 0.2

    rescored = rd.score(table[["session_id", "turn", "speaker", "text"]].head(40), model=str(model))
    assert rescored.model["path"] == str(model) and "model p=" in " ".join(rescored.utterances["evidence"])
