"""Scoring on a Dask cluster (a LocalCluster of two worker processes): the same rows as in this process."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from rupture_detect.api import score
from rupture_detect.cli import main

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1") as cl, distributed.Client(cl) as client:
        yield cl, client


def _table(tmp_path):
    lines = ["session_id,turn,speaker,text"]
    for s in range(8):
        for u, (who, text) in enumerate([("T", "You need to stop drinking, it's dangerous."),
                                         ("C", "I only have a couple at the weekend, it's not like I'm an alcoholic."),
                                         ("T", "What do you make of that?"), ("C", "Mm-hmm.")]):
            lines.append(f"S{s},{u + 1},{who},\"{text}\"")
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_score_on_dask_gives_the_same_rows(cluster, tmp_path, monkeypatch):
    import rupture_detect.run.batch as batch
    monkeypatch.setattr(batch, "BATCH_UTTERANCES", 8)          # several tasks
    _, client = cluster
    path = _table(tmp_path)
    here = score(path, jobs=1)
    there = score(path, client=client)
    assert len(here.utterances) == 32
    pd.testing.assert_frame_equal(here.utterances, there.utterances)
    pd.testing.assert_frame_equal(here.sessions, there.sessions)
    frame = score(pd.read_csv(path, dtype=str), client=client)
    assert frame.utterances["marker"].tolist() == here.utterances["marker"].tolist()
    # the model was loaded on the workers once, and is kept there (never shipped with the tasks)
    keys = client.run(lambda: sorted(k for k in batch._WORKER if k.startswith("[")))
    assert len(keys) == 2 and all(len(v) == 1 for v in keys.values())


def test_cli_dask_option(cluster, tmp_path):
    cl, _ = cluster
    path = _table(tmp_path)
    local = CliRunner().invoke(main, ["score", str(path), "-o", str(tmp_path / "a"), "-q", "-j", "1"])
    remote = CliRunner().invoke(main, ["score", str(path), "-o", str(tmp_path / "b"), "-q",
                                       "--dask", cl.scheduler_address])
    assert local.exit_code == 0, local.output
    assert remote.exit_code == 0, remote.output
    assert (tmp_path / "a" / "utterances.csv").read_text() == (tmp_path / "b" / "utterances.csv").read_text()
    bad = CliRunner().invoke(main, ["score", str(path), "-o", str(tmp_path / "c"), "--dask", "tcp://127.0.0.1:9"])
    assert bad.exit_code == 2 and "cannot reach the Dask scheduler" in bad.output
