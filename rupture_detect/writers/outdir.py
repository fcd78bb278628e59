"""The output folder of a run, built aside and swapped in only when the run is done.

A run writes every table, chart and the manifest into a temporary folder
beside ``OUTDIR``. :meth:`OutputFolder.commit` then moves the previous results
aside, renames the new folder into place and deletes the old one; a run that
fails, is interrupted or scores nothing calls :meth:`OutputFolder.discard` and
the previous results stay exactly as they were. Charts of old runs never mix
with new tables, because the whole folder is replaced.

Only a folder that holds nothing but this tool's outputs is ever replaced; any
other non-empty folder is refused, so ``-o`` can never wipe a user's files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

TABLE_NAMES = ("utterances", "sessions", "episodes", "segments")
OWN_NAMES = {f"{t}.{ext}" for t in TABLE_NAMES for ext in ("csv", "jsonl", "parquet")} | {
    "charts", "manifest.json", "report.html"}


class OutputError(ValueError):
    """The output folder cannot be used (a usage error: nothing was written)."""


def check_separate(outdir: Path, inputs: list[Path]) -> None:
    """Refuse an output folder inside an input folder, or an input inside the output folder."""
    out = Path(os.path.realpath(outdir))
    for item in inputs:
        real = Path(os.path.realpath(item))
        if real.is_dir() and (out == real or out.is_relative_to(real)):
            raise OutputError(f"the output folder {outdir} is inside the input folder {item}: its tables "
                              "would be read as transcripts next time; choose -o outside the inputs")
        if out.exists() and real.is_relative_to(out):
            raise OutputError(f"the input {item} is inside the output folder {outdir}, which this run "
                              "replaces; move it or choose another -o")


class OutputFolder:
    """``with OutputFolder(outdir) as work:`` write into ``work.path``, then ``work.commit()``."""

    def __init__(self, outdir: str | Path):
        self.target = Path(outdir)
        if self.target.exists() and not self.target.is_dir():
            raise OutputError(f"{self.target} exists and is not a folder")
        if self.target.is_dir():
            foreign = sorted(p.name for p in self.target.iterdir() if p.name not in OWN_NAMES)
            if foreign:
                raise OutputError(f"{self.target} holds files this tool did not write ({', '.join(foreign[:3])}"
                                  f"{', ...' if len(foreign) > 3 else ''}); choose an empty or new folder")
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.partial-", dir=parent))
        except OSError as err:
            raise OutputError(f"cannot write the output folder {self.target}: {err.strerror or err}") from None
        self.committed = False

    def commit(self) -> Path:
        """Swap the finished folder in; the previous results are removed only after the new ones are in place."""
        os.chmod(self.path, 0o777 & ~_umask())             # mkdtemp makes 0700
        old = None
        if self.target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.old-", dir=self.target.parent))
            os.replace(self.target, old / "previous")
        os.replace(self.path, self.target)
        self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.committed:
            self.discard()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
