"""Review in the browser: supervisors and researchers confirm, correct and add codes.

* :mod:`.queue`: the flagged client turns of a score run, each in its context (read-only);
* :mod:`.store`: the decisions, in SQLite (one row per decision, never changed);
* :mod:`.export`: the codes out again, in the annotated-table format ``train`` and ``evaluate`` read,
  and agreement between two reviewers or a reviewer and the tool;
* :mod:`.app` and :mod:`.server`: the local web app (Flask) on 127.0.0.1, behind a per-run token.

Started by ``rupture-detect review`` (:mod:`rupture_detect.cli_review`).
"""
