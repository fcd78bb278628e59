"""Where a scoring run's results go: the sinks that consume :func:`rupture_detect.run.batch.iter_results`.

The CLI and the Python API run the same scoring (:mod:`rupture_detect.run.batch`) and differ only in the
sink: :class:`TableSink` writes the four tables (and charts) session by session into an output folder;
:class:`FrameSink` collects them as pandas DataFrames. Both take one ``FileResult`` at a time and
return the errors of sessions they could not take, so a bad session is reported, never half-kept.
The tables' columns and types are defined once, in :func:`table_specs`.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pandas as pd

from .tables import TableWriter

TABLE_KEYS = ("rows", "sessions", "episodes", "segments")      # FileResult attributes, in table order


def formatted(key: str, rows: list[dict]) -> list[dict]:
    """Rows as a table holds them: a decision's structured evidence becomes the ``evidence`` text and the
    ``evidence_spans`` JSON (offsets in that row's own text); every other value is kept as it is."""
    if key != "rows":
        return rows
    out = []
    for row in rows:
        ev = row.get("evidence")
        if ev is None or isinstance(ev, str):
            out.append({**row, "evidence": ev or "", "evidence_spans": row.get("evidence_spans") or ""})
        else:
            out.append({**row, "evidence": ev.format(), "evidence_spans": ev.to_json(str(row["text"]))})
    return out


def table_specs() -> dict[str, tuple[str, list[str], dict]]:
    """FileResult attribute -> (table name, columns, column types)."""
    from ..run.scoring import (
        EPISODE_TYPES,
        SEGMENT_TYPES,
        SESSION_COLUMNS,
        SESSION_TYPES,
        UTTERANCE_COLUMNS,
        UTTERANCE_TYPES,
    )
    from ..session.episodes import EPISODE_COLUMNS
    from ..session.segments import segment_columns
    return {"rows": ("utterances", UTTERANCE_COLUMNS, UTTERANCE_TYPES),
            "sessions": ("sessions", SESSION_COLUMNS, SESSION_TYPES),
            "episodes": ("episodes", EPISODE_COLUMNS, EPISODE_TYPES),
            "segments": ("segments", segment_columns(), SEGMENT_TYPES)}


class FrameSink:
    """Collects a run's results in memory, as the Python API returns them."""

    def __init__(self):
        self.tables: dict[str, list[dict]] = {key: [] for key in TABLE_KEYS}
        self.warnings: list[str] = []

    def add(self, result) -> list[str]:
        self.warnings.extend(result.warnings)
        for key in TABLE_KEYS:
            self.tables[key].extend(formatted(key, getattr(result, key)))
        return []

    def frames(self) -> dict[str, pd.DataFrame]:
        return {key: pd.DataFrame(self.tables[key], columns=cols) for key, (_, cols, _) in table_specs().items()}


class TableSink:
    """The four tables (and, on request, the charts) of one run, written session by session into a folder.

    Each file's rows are prepared for all four tables before any is written, so
    a session that cannot be written is left out of every table (reported), not
    half-written; a chart that cannot be drawn is a warning, never a lost table."""

    def __init__(self, folder: Path, fmt: str, charts: bool):
        self.folder, self.fmt, self.charts = folder, fmt, charts
        self.specs = table_specs()
        self.sessions: list[dict] = []
        self.warnings: list[str] = []
        self.utterances = self.flagged = 0

    def __enter__(self):
        self._stack = ExitStack()
        self.writers = {key: self._stack.enter_context(TableWriter(self.folder / f"{name}.{self.fmt}", cols,
                                                                   self.fmt, types))
                        for key, (name, cols, types) in self.specs.items()}
        return self

    def __exit__(self, *exc):
        return self._stack.__exit__(*exc)

    def add(self, result) -> list[str]:
        """Write one file's sessions; returns the errors of sessions that could not be written."""
        self.warnings.extend(result.warnings)
        errors = []
        for sid in dict.fromkeys(str(s["session_id"]) for s in result.sessions):
            part = {key: formatted(key, [r for r in getattr(result, key) if str(r["session_id"]) == sid])
                    for key in self.writers}
            try:
                chunks = {key: w.prepare(part[key]) for key, w in self.writers.items()}
            except (ValueError, TypeError, OverflowError, ArithmeticError) as err:
                errors.append(f"{result.path}: session {sid}: could not be written ({err}); left out")
                continue
            for key, w in self.writers.items():
                w.commit(chunks[key])
            self.sessions.extend(part["sessions"])
            self.utterances += len(part["rows"])
            self.flagged += sum(r["marker"] in ("withdrawal", "confrontation") for r in part["rows"])
            if self.charts:
                self._chart(result.path, sid, part)
        return errors

    def _chart(self, path: str, sid: str, part: dict) -> None:
        from .charts import timeline
        try:
            timeline(sid, part["rows"], part["episodes"], self.folder / "charts")
        except Exception as err:          # noqa: BLE001 - a chart is never worth a lost session
            self.warnings.append(f"{path}: session {sid}: no chart ({type(err).__name__}: {err})")
