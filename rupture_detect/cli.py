"""``rupture-detect``: a thin click layer over the library.

Exit codes: 0 all inputs scored; 1 some inputs failed (the rest were scored
and written); 2 usage error; 3 nothing could be scored.
"""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack
from pathlib import Path

import click

from . import __version__
from .cli_pages import report, study

EXIT_PARTIAL, EXIT_NOTHING = 1, 3


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise click.BadParameter(f"{v!r}: expected {what}")
        k, _, val = v.partition("=")
        out[k.strip()] = val.strip()
    return out


def _bundled_samples() -> Path:
    return Path(__file__).resolve().parent.parent / "sample_transcripts"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rupture-detect")
def main() -> None:
    """Find alliance-rupture markers in anonymised psychotherapy transcripts.

    Flags are prompts for human reflection (research, supervision, training),
    not clinical verdicts.
    """


@main.command()
@click.argument("inputs", nargs=-1, type=str)
@click.option("-o", "--output", "outdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("rupture_results"), show_default=True, help="Folder for the output tables.")
@click.option("--format", "out_format", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv",
              show_default=True, help="Format of the output tables.")
@click.option("--input-format", type=click.Choice(["text", "csv", "tsv", "jsonl", "vtt", "srt"]),
              help="Read every input as this format (default: from extension and content).")
@click.option("--therapist", multiple=True, metavar="NAME",
              help="A speaker name that is the therapist; other names become clients. Repeatable.")
@click.option("--client", multiple=True, metavar="NAME", help="A speaker name that is the client. Repeatable.")
@click.option("--speaker", "speaker_map", multiple=True, metavar="LABEL=ROLE",
              help="Map a speaker label or table value to therapist, client or other. Repeatable.")
@click.option("--speakers", "speakers_file", type=click.Path(exists=True, dir_okay=False),
              help="CSV with columns name,role (a speakers.csv inside an input folder is read automatically).")
@click.option("--column", "column_map", multiple=True, metavar="FIELD=COLUMN",
              help="For tables: which column holds session_id, turn, speaker, text, start or end. Repeatable.")
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False),
              help="A trained model folder (default: the shipped model).")
@click.option("--rules-only", is_flag=True, help="Decide with the rules alone, no trained model.")
@click.option("-j", "--jobs", type=click.IntRange(0, 64), default=0,
              help="Worker processes, each scoring whole files (default 0: one per core when there are "
                   "at least 4 files, else 1).")
@click.option("--segment-minutes", type=click.FloatRange(0.5, 60), default=5.0, show_default=True,
              help="Segment length for sessions with timestamps (3RS uses five minutes).")
@click.option("--segment-turns", type=click.IntRange(2, 1000), default=40, show_default=True,
              help="Segment length in utterances for sessions without timestamps.")
@click.option("--charts/--no-charts", default=True, show_default=True,
              help="Draw a timeline chart per session (OUTDIR/charts/<session>.png and .svg).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
def score(inputs, outdir, out_format, input_format, therapist, client, speaker_map, speakers_file, column_map,
          model_dir, rules_only, jobs, segment_minutes, segment_turns, charts, quiet):
    """Score transcripts: INPUTS are files, folders or globs (default: the bundled samples).

    Writes, atomically, OUTDIR/utterances.csv (one row per input utterance, in
    input order), sessions.csv, episodes.csv and segments.csv (columns in
    docs/outputs.md), and a timeline chart per session.
    """
    from tqdm import tqdm

    from .batch import ReadOptions, expand_inputs, iter_results, read_roster
    from .output import TableWriter
    from .episodes import EPISODE_COLUMNS
    from .scoring import (EPISODE_TYPES, SEGMENT_TYPES, SESSION_COLUMNS, SESSION_TYPES, UTTERANCE_COLUMNS,
                          UTTERANCE_TYPES)
    from .segments import segment_columns
    from .transcript import SpeakerRoles

    if not inputs:
        samples = _bundled_samples()
        if not samples.is_dir():
            raise click.UsageError("no INPUTS given and no bundled sample_transcripts/ found")
        inputs = (str(samples),)
    speakers = read_roster(speakers_file) if speakers_file else {}
    speakers.update(_pairs(speaker_map, "LABEL=ROLE"))
    speakers.update({name: "client" for name in client})
    try:
        SpeakerRoles(speakers)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--speaker/--speakers") from None
    options = ReadOptions(fmt=input_format, columns=_pairs(column_map, "FIELD=COLUMN"),
                          speakers=speakers, therapists=tuple(therapist))
    files, failures = expand_inputs(inputs)
    if jobs == 0:
        jobs = (os.cpu_count() or 1) if len(files) >= 4 else 1
    model = None if rules_only else (model_dir or "default")
    ext = "csv" if out_format == "csv" else out_format
    failed = [f.error for f in failures]
    n_sessions = 0
    sessions_all = []
    show = not quiet and sys.stderr.isatty()
    tables = {"rows": ("utterances", UTTERANCE_COLUMNS, UTTERANCE_TYPES),
              "sessions": ("sessions", SESSION_COLUMNS, SESSION_TYPES),
              "episodes": ("episodes", EPISODE_COLUMNS, EPISODE_TYPES),
              "segments": ("segments", segment_columns(), SEGMENT_TYPES)}
    with ExitStack() as stack:
        writers = {key: stack.enter_context(TableWriter(outdir / f"{name}.{ext}", cols, out_format, types))
                   for key, (name, cols, types) in tables.items()}
        bar = tqdm(total=len(files), unit="file", disable=not show, desc="scoring")
        for result in iter_results(files, options, model, None, jobs, segment_minutes, segment_turns):
            bar.update(1)
            if result.error:
                failed.append(result.error)
                bar.write(f"error: {result.error}", file=sys.stderr)
                continue
            for key, writer in writers.items():
                writer.write(getattr(result, key))
            if charts:
                _draw_charts(result, outdir / "charts")
            n_sessions += len(result.sessions)
            sessions_all.extend(result.sessions)
        bar.close()
    for err in failures:
        click.echo(f"error: {err.error}", err=True)
    if not quiet:
        _summary(sessions_all, outdir, ext)
    if failed:
        click.echo(f"{len(failed)} input(s) failed; {n_sessions} session(s) scored.", err=True)
        sys.exit(EXIT_PARTIAL if n_sessions else EXIT_NOTHING)


@main.command()
@click.argument("data", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the model files and model_card.json.")
@click.option("--folds", type=click.IntRange(2, 10), default=5, show_default=True,
              help="Cross-validation folds, grouped by session (calibration; threshold without a dev split).")
def train(data, out_dir, folds):
    """Train the classifier on an annotated table or corpus folder (default: data/corpus).

    With a train/dev split (a split column, or sessions.jsonl in a corpus
    folder) it fits on train and tunes on dev; without one it tunes by
    cross-validation grouped by session. Writes the fused and model-only
    variants, the dimension model and a JSON model card.
    """
    from .api import make_scorer
    from .corpus import corpus_dir
    from .training import train as run_training
    data = data or corpus_dir()
    card = run_training(data, out_dir, make_scorer(None), log=lambda m: click.echo(m, err=True), folds=folds)
    click.echo(f"model written to {out_dir} (threshold fused {card['thresholds']['fused']:.2f}); "
               f"evaluate it with: rupture-detect evaluate {data} --model {out_dir}")


@main.command()
@click.argument("gold", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Model folder (default: the shipped model).")
@click.option("--split", help="Evaluate only this split (default: test for a corpus folder, all rows otherwise).")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(gold, model_dir, split, as_json):
    """Agreement with gold labels: rules only, model only and fused.

    Precision, recall and F1 per family and subtype, macro-F1, Cohen's kappa,
    dimension accuracy and a confusion matrix, per client turn.
    """
    import json as jsonlib

    from .api import CLASSIFIER_DIRNAME, make_scorer
    from .corpus import corpus_dir
    from .evaluate import evaluate as run_eval
    from .evaluate import format_report
    from .pipeline import models_dir
    gold = gold or corpus_dir()
    if split is None and gold.is_dir():
        split = "test"
    if model_dir is None and (models_dir() / CLASSIFIER_DIRNAME / "model_card.json").exists():
        model_dir = models_dir() / CLASSIFIER_DIRNAME
    try:
        results = run_eval(gold, model_dir, make_scorer(None), split=split)
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    click.echo(jsonlib.dumps(results, indent=2) if as_json else format_report(results))


@main.group()
def corpus() -> None:
    """Work with annotated corpora (the project's, or your own coding)."""


@corpus.command("validate")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def corpus_validate(path):
    """Check an annotated corpus (folder or table) and print its label counts.

    PATH defaults to the project's corpus in data/corpus. Exits 1 if any
    problem is found; each problem names the file and line.
    """
    from .corpus import format_counts, validate
    result = validate(path)
    if result.counts:
        click.echo(format_counts(result.counts))
    for p in result.problems:
        click.echo(f"problem: {p}", err=True)
    if not result.ok:
        click.echo(f"{len(result.problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo("corpus ok.")


def _draw_charts(result, folder: Path) -> None:
    from .charts import timeline
    by_session: dict[str, list[dict]] = {}
    for r in result.rows:
        by_session.setdefault(str(r["session_id"]), []).append(r)
    for sid, rows in by_session.items():
        timeline(sid, rows, [e for e in result.episodes if str(e["session_id"]) == sid], folder)


def _summary(sessions: list[dict], outdir: Path, ext: str) -> None:
    if not sessions:
        return
    import pandas as pd
    df = pd.DataFrame(sessions)
    cols = ["session_id", "utterances", "client_turns", "withdrawal", "confrontation", "episodes",
            "resolution_rate", "strain_bond", "strain_task", "strain_goal"]
    click.echo(df[cols].to_string(index=False))
    click.echo(f"\n{len(df)} session(s), {int(df['utterances'].sum())} utterances, "
               f"{int(df['withdrawal'].sum())} withdrawal and {int(df['confrontation'].sum())} confrontation "
               f"markers, {int(df['episodes'].sum())} episodes -> {outdir}/ (utterances, sessions, episodes, "
               f"segments .{ext}; charts/)")


main.add_command(report)     # the browser-facing commands live in cli_pages.py
main.add_command(study)

if __name__ == "__main__":
    main()
