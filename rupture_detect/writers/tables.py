"""Atomic, streaming table writers (CSV, JSON Lines, Parquet).

Rows are appended to a temporary file beside the target; only ``close()``
renames it into place, so a crash or an interrupted run never leaves a
half-written table under the real name.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

FORMATS = ("csv", "jsonl", "parquet")


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class TableWriter:
    def __init__(self, path: str | Path, columns: list[str], fmt: str = "csv", types: dict | None = None):
        """``types`` maps columns to ``"float"`` or ``"int"`` (default text); used for Parquet's schema."""
        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {FORMATS}")
        self.path = Path(path)
        self.columns = list(columns)
        self.fmt = fmt
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp = Path(tmp)
        self._parquet = None
        self._schema = None
        if fmt == "parquet":
            os.close(fd)
            self._fh = None
        else:
            self._fh = os.fdopen(fd, "w", encoding="utf-8", newline="")
            if fmt == "csv":
                csv.DictWriter(self._fh, fieldnames=self.columns).writeheader()
        self.types = dict(types or {})
        self.rows_written = 0

    def write(self, rows: list[dict]) -> None:
        self.commit(self.prepare(rows))

    def prepare(self, rows: list[dict]):
        """Render rows for this table without touching the file; raises if they cannot be written.

        A caller that writes one session to several tables prepares them all
        first, so a session is either in every table or in none."""
        if not rows:
            return None
        if self.fmt == "csv":
            buf = io.StringIO()
            csv.DictWriter(buf, fieldnames=self.columns, extrasaction="ignore").writerows(rows)
            return buf.getvalue(), len(rows)
        if self.fmt == "jsonl":
            return "".join(json.dumps({c: _clean(r.get(c)) for c in self.columns}, ensure_ascii=False,
                                      allow_nan=False) + "\n" for r in rows), len(rows)
        import pyarrow as pa
        if self._schema is None:
            for c in self.columns:    # untyped columns: float if the first value is a float, else text
                first = next((r.get(c) for r in rows if _clean(r.get(c)) is not None), None)
                self.types.setdefault(c, "float" if isinstance(first, float) else None)
            self._schema = self._arrow_schema()
        data = {c: [_as_type(r.get(c), self.types.get(c)) for r in rows] for c in self.columns}
        return pa.Table.from_pydict(data, schema=self._schema), len(rows)

    def commit(self, chunk) -> None:
        if chunk is None:
            return
        payload, n = chunk
        if self.fmt == "parquet":
            import pyarrow.parquet as pq
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.tmp, self._schema)
            self._parquet.write_table(payload)
        else:
            self._fh.write(payload)
        self.rows_written += n

    def close(self) -> Path:
        if self._fh is not None:
            self._fh.close()
        if self.fmt == "parquet":
            if self._parquet is None:      # no rows: still write a valid empty table
                import pyarrow.parquet as pq
                pq.write_table(self._arrow_schema().empty_table(), self.tmp)
            else:
                self._parquet.close()
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)      # mkstemp creates 0600; give the file normal permissions
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            if self._fh is not None:
                self._fh.close()
            if self._parquet is not None:
                self._parquet.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def _arrow_schema(self):
        import pyarrow as pa
        kinds = {"float": pa.float64(), "int": pa.int64()}
        return pa.schema([(c, kinds.get(self.types.get(c), pa.string())) for c in self.columns])

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _as_type(value, kind: str | None):
    """Parquet needs one type per column (turn ids may be numbers in one file and text in another)."""
    value = _clean(value)
    if value is None or value == "":
        return None if kind else ("" if value == "" else None)
    if kind == "float":
        return float(value)
    if kind == "int":
        return int(value)
    return str(value)


def write_table(path: str | Path, rows: list[dict], columns: list[str], fmt: str = "csv",
                types: dict | None = None) -> Path:
    with TableWriter(path, columns, fmt, types) as w:
        w.write(rows)
    return w.path
