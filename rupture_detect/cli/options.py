"""Click options that several commands share (``score``, ``report``), defined once, with what they build.

* :func:`reading_options`: how inputs are read (format, speaker roles, table columns, ``--strict``);
  :func:`read_options` turns them into :class:`~rupture_detect.readers.inputs.ReadOptions`.
* :func:`model_options`: which model decides (``--model``, ``--rules-only``); :func:`scorer_from`
  loads it, with a usage error for an unusable folder and a loud warning when none is found.
* :func:`run_options`: where the work runs (``-j``, ``--dask``).
"""

from __future__ import annotations

from pathlib import Path

import click

from ..readers.formats import FORMATS


def _stack(*decorators):
    def apply(f):
        for d in reversed(decorators):
            f = d(f)
        return f
    return apply


reading_options = _stack(
    click.option("--input-format", type=click.Choice(FORMATS),
                 help="Read every input as this format (default: from extension and content)."),
    click.option("--therapist", multiple=True, metavar="NAME",
                 help="A speaker name that is the therapist; other names become clients. Repeatable."),
    click.option("--client", multiple=True, metavar="NAME", help="A speaker name that is the client. Repeatable."),
    click.option("--speaker", "speaker_map", multiple=True, metavar="LABEL=ROLE",
                 help="Map a speaker label or table value to therapist, client or other. Repeatable."),
    click.option("--speakers", "speakers_file", type=click.Path(exists=True, dir_okay=False),
                 help="CSV with columns name,role (a speakers.csv inside an input folder is read automatically)."),
    click.option("--column", "column_map", multiple=True, metavar="FIELD=COLUMN",
                 help="For tables: which column holds session_id, turn, speaker, text, start or end. Repeatable."),
    click.option("--strict", is_flag=True,
                 help="Treat bad rows (unreadable times, missing text, malformed lines) as errors that fail their "
                      "file, instead of warnings."),
)

model_options = _stack(
    click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False),
                 help="A trained model folder (default: the shipped model)."),
    click.option("--rules-only", is_flag=True, help="Decide with the rules alone, no trained model."),
)

run_options = _stack(
    click.option("-j", "--jobs", type=click.IntRange(0, 64), default=0,
                 help="Worker processes, each scoring batches of whole sessions, so one big table uses them too "
                      "(default 0: one per core for 4+ files or 250 kB+ of input, else 1). Output is the same "
                      "for any -j."),
    click.option("--dask", "dask_address", metavar="SCHEDULER_ADDRESS",
                 help="Score on a Dask cluster (pip install 'rupture-detect[dask]'): batches of sessions go to its "
                      "workers, each loading the pipeline and model once; the rows are the same as with -j 1."),
)


def pairs(values: tuple[str, ...], what: str, hint: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"{v!r}: expected {what}", param_hint=hint)
        k, _, val = v.partition("=")
        out[k.strip()] = val.strip()
    return out


def read_options(kw: dict):
    """ReadOptions from the reading options (consumed from ``kw``); bad values are usage errors."""
    from ..readers.inputs import ReadOptions, read_roster
    from ..readers.transcript import SpeakerRoles, TranscriptError
    speakers = {}
    if kw.get("speakers_file"):
        try:
            speakers = read_roster(kw["speakers_file"])
        except TranscriptError as err:
            raise click.BadParameter(str(err), param_hint="--speakers") from None
    speakers.update(pairs(kw.get("speaker_map", ()), "LABEL=ROLE", "--speaker"))
    speakers.update({name: "client" for name in kw.get("client", ())})
    try:
        SpeakerRoles(speakers)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--speaker/--speakers") from None
    return ReadOptions(fmt=kw.get("input_format"), columns=pairs(kw.get("column_map", ()), "FIELD=COLUMN", "--column"),
                       speakers=speakers, therapists=tuple(kw.get("therapist", ())), strict=bool(kw.get("strict")))


def scorer_from(kw: dict):
    """The scorer the model options ask for; an unusable model folder is a usage error (exit 2), and a
    missing shipped model is said on stderr (and, by the caller, in the manifest)."""
    from ..api import ModelError, make_scorer
    try:
        scorer = make_scorer(None if kw.get("rules_only") else (kw.get("model_dir") or "default"))
    except ModelError as err:
        raise click.BadParameter(str(err), param_hint="--model") from None
    if scorer.model_info["id"] == "rules-only" and not kw.get("rules_only"):
        click.echo(f"warning: {scorer.model_info['reason']}", err=True)
    return scorer


def dask_client(address: str | None):
    if not address:
        return None
    try:
        from distributed import Client
    except ImportError:
        raise click.UsageError("--dask needs Dask: pip install 'rupture-detect[dask]'") from None
    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise click.BadParameter(f"cannot reach the Dask scheduler at {address}: {err}",
                                 param_hint="--dask") from None


def default_jobs(jobs: int, files: list) -> int:
    """``-j 0``: one worker per core once there is enough to share out, else one process."""
    import os
    if jobs:
        return jobs
    size = sum(f.path.stat().st_size for f in files if Path(f.path).exists())
    return (os.cpu_count() or 1) if len(files) >= 4 or size >= 256_000 else 1
