"""``rupture-detect``: a thin click layer over the library.

Exit codes: 0 all inputs scored; 1 some inputs or sessions failed (the rest
were scored and written); 2 usage error (nothing written); 3 nothing could be
scored (previous results kept); 130 interrupted.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from datetime import UTC
from pathlib import Path

import click

from .. import __version__
from ..writers.sinks import TableSink
from .options import dask_client, default_jobs, model_options, read_options, reading_options, run_options, scorer_from
from .pages import report, study
from .review import review

EXIT_PARTIAL, EXIT_NOTHING, EXIT_INTERRUPTED = 1, 3, 130


def _bundled_samples() -> Path:
    return Path(__file__).resolve().parents[2] / "sample_transcripts"


class _Group(click.Group):
    """Ctrl-C ends any command quietly (exit 130): no traceback, no half-written output."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\ninterrupted; nothing was written (earlier results are untouched).", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Exit codes: 0 done; 1 some inputs or sessions failed (reported with file and line, the rest "
                    "written); 2 usage error (bad option, --model or -o; nothing written); 3 nothing could be "
                    "scored (previous results kept); 130 interrupted.")
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
@reading_options
@model_options
@run_options
@click.option("--segment-minutes", type=click.FloatRange(0.5, 60), default=5.0, show_default=True,
              help="Segment length for sessions with timestamps (3RS uses five minutes).")
@click.option("--segment-turns", type=click.IntRange(2, 1000), default=40, show_default=True,
              help="Segment length in utterances for sessions without timestamps.")
@click.option("--charts/--no-charts", default=False, show_default=True,
              help="Also draw a timeline chart per session (OUTDIR/charts/<session>.png and .svg). Off by "
                   "default: matplotlib costs about 0.3 s a session, and the HTML report draws its own timeline.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
def score(inputs, outdir, out_format, segment_minutes, segment_turns, charts, quiet, **kw):
    """Score transcripts: INPUTS are files, folders or globs (default: the bundled samples).

    Writes OUTDIR/utterances.csv (one row per input utterance, in input
    order), sessions.csv, episodes.csv, segments.csv (columns in
    docs/outputs.md), manifest.json (version, model, options, inputs with
    hashes, warnings, errors) and, with --charts, a timeline chart per
    session. The whole folder is built aside and swapped in when the run is
    done: a run that scores nothing leaves the previous results untouched.

    \b
    Exit codes: 0 every input scored; 1 some inputs or sessions failed (each
    reported with file and line; the rest scored and written); 2 usage error
    (nothing written); 3 nothing could be scored (previous results kept);
    130 interrupted.
    """
    from datetime import datetime

    from tqdm import tqdm

    from ..readers.inputs import expand_inputs
    from ..run.batch import iter_results
    from ..writers.manifest import build_manifest, write_manifest
    from ..writers.outdir import OutputError, OutputFolder, check_separate

    started = datetime.now(UTC)
    if not inputs:
        samples = _bundled_samples()
        if not samples.is_dir():
            raise click.UsageError("no INPUTS given and no bundled sample_transcripts/ found")
        inputs = (str(samples),)
    options = read_options(kw)
    files, failures = expand_inputs(inputs)
    try:
        check_separate(outdir, [Path(i) for i in inputs if Path(i).exists()] + [f.path for f in files])
        work = OutputFolder(outdir)
    except OutputError as err:
        raise click.UsageError(str(err)) from None
    with work:
        scorer = scorer_from(kw)
        scorer.segment_minutes, scorer.segment_turns = segment_minutes, segment_turns
        jobs = default_jobs(kw["jobs"], files)
        client = dask_client(kw["dask_address"])
        errors = [f.error for f in failures]
        for err in errors:
            click.echo(f"error: {err}", err=True)
        run = TableSink(work.path, out_format, charts)
        bar = tqdm(unit="session", disable=quiet or not sys.stderr.isatty(), desc="scoring")
        with run, (client or nullcontext()):
            for result in iter_results(files, options, scorer, jobs, client):
                bar.update(len(result.sessions))
                for message in result.problems() + run.add(result):
                    errors.append(message)
                    bar.write(f"error: {message}", file=sys.stderr)
                if not quiet:
                    for w in result.warnings:
                        bar.write(f"warning: {w}", file=sys.stderr)
            bar.close()
        if not run.sessions:
            click.echo(f"{len(errors)} input(s) failed; nothing scored; previous results in {outdir} "
                       "left untouched.", err=True)
            sys.exit(EXIT_NOTHING)
        manifest = build_manifest(
            command="score", model=scorer.model_info, inputs=[f.path for f in files], started=started,
            options={"format": out_format, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in kw.items()},
                     "speakers": options.speakers, "columns": options.columns, "jobs": jobs,
                     "segment_minutes": segment_minutes, "segment_turns": segment_turns, "charts": charts},
            counts={"files": len(files), "sessions": len(run.sessions), "utterances": run.utterances,
                    "flagged": run.flagged}, warnings=run.warnings, errors=errors)
        write_manifest(work.path, manifest)
        work.commit()
    if not quiet:
        _summary(run.sessions, outdir, out_format, len(run.warnings))
    if errors:
        click.echo(f"{len(errors)} input(s) or session(s) failed; {len(run.sessions)} session(s) scored "
                   f"and written to {outdir}.", err=True)
        sys.exit(EXIT_PARTIAL)


@main.command()
@click.argument("data", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the model files and model_card.json.")
@click.option("--folds", type=click.IntRange(2, 10), default=5, show_default=True,
              help="Cross-validation folds, grouped by session (calibration; threshold without a dev split).")
@click.option("--coder", metavar="NAME", help="With a review export (rupture-detect review export): whose codes to "
                                              "train on (needed when it holds several reviewers).")
def train(data, out_dir, folds, coder):
    """Train the classifier on an annotated table or corpus folder (default: the shipped corpus).

    With a train/dev split (a split column, or sessions.jsonl in a corpus
    folder) it fits on train and tunes on dev; without one it tunes by
    cross-validation grouped by session. Client turns with an empty marker
    (turns a review left uncoded) are left out. Writes the fused and
    model-only variants, the dimension model and a JSON model card.
    """
    import tempfile

    from ..api import make_scorer
    from ..learn.corpus import corpus_dir
    from ..learn.training import train as run_training
    data = data or corpus_dir()
    with tempfile.TemporaryDirectory() as tmp:
        table, _ = _coder_table(data, coder, tmp)
        card = run_training(table, out_dir, make_scorer(None), log=lambda m: click.echo(m, err=True), folds=folds)
    click.echo(f"model written to {out_dir} (threshold fused {card['thresholds']['fused']:.2f}); "
               f"evaluate it with: rupture-detect evaluate {data} --model {out_dir}")


@main.command()
@click.argument("gold", required=False, type=str)
@click.option("--model", "model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Model folder (default: the shipped model).")
@click.option("--split", help="Evaluate only this split (default: test for a corpus folder, all rows otherwise).")
@click.option("--coder", metavar="NAME",
              help="Whose codes are the gold: with annomi:PATH final (default), A or B; with a review export, a "
                   "reviewer's name (needed when it holds several).")
@click.option("--against", metavar="NAME|tool",
              help="With a review export: agreement of --coder with another reviewer, or with the tool's decisions "
                   "as they were reviewed ('tool'): kappa, Gwet's AC1, per subtype; nothing is scored again.")
@click.option("--record", is_flag=True,
              help="Also record the headline figures in the model's model_card.json (under 'figures').")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(gold, model_dir, split, coder, against, record, as_json):
    """Agreement with gold labels: rules only, model only and fused.

    GOLD is an annotated table or corpus folder (default: the shipped corpus,
    test split), annomi:PATH/TO/AnnoMI-simple.csv for the real-talk
    development set (the project's codes joined with your copy of AnnoMI; its
    text is only read, never stored), or a review export (`rupture-detect
    review export`; --coder picks the reviewer). Precision, recall and F1 per
    family and subtype, macro-F1, Cohen's kappa, Gwet's AC1, marker precision
    and recall, the share of none turns flagged, dimension accuracy and a
    confusion matrix, per client turn, overall and per session style. Client
    turns with an empty marker (not coded) are left out.
    """
    import json as jsonlib
    import tempfile

    from ..api import default_model_dir, make_scorer
    from ..learn.annomi import CODERS, PREFIX, gold_path
    from ..learn.corpus import corpus_dir
    from ..learn.evaluate import evaluate as run_eval
    from ..learn.evaluate import format_report, record_figures

    if against:
        from ..review.export import format_agreement, review_agreement
        if not gold or gold.startswith(PREFIX) or not Path(gold).is_file():
            raise click.BadParameter("--against compares the coders of a review export: give its path as GOLD",
                                     param_hint="GOLD")
        try:
            agreement = review_agreement(gold, coder, against)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="GOLD/--coder/--against") from None
        click.echo(jsonlib.dumps(agreement, indent=2) if as_json else format_agreement(agreement))
        return
    name, reviewer = gold or "corpus", None
    if model_dir is None:
        if (default_model_dir() / "model_card.json").exists():
            model_dir = default_model_dir()
        else:
            click.echo(f"warning: no trained model found at {default_model_dir()}; evaluating the rules only",
                       err=True)
    with tempfile.TemporaryDirectory() as tmp:
        if gold and gold.startswith(PREFIX):
            coder = coder or "final"
            if coder not in CODERS:
                raise click.BadParameter(f"with annomi:PATH, one of {', '.join(CODERS)}", param_hint="--coder")
            try:
                path = gold_path(gold, Path(tmp), coder)
            except (ValueError, OSError) as err:
                raise click.BadParameter(str(err), param_hint="GOLD") from None
            name = f"annomi (coder {coder})"
        elif gold and not Path(gold).exists():
            raise click.BadParameter(f"{gold}: no such file or folder", param_hint="GOLD")
        else:
            path, reviewer = _coder_table(Path(gold) if gold else corpus_dir(), coder, tmp)
            if reviewer:
                name = f"{name} (reviewer {reviewer})"
        if split is None and path.is_dir():
            split = "test"
        try:
            results = run_eval(path, model_dir, make_scorer(None), split=split)
        except ValueError as err:
            raise click.UsageError(str(err)) from None
    if gold and gold.startswith(PREFIX):
        results["gold"] = gold
    else:
        results["gold"] = str(Path(gold) if gold else path) + (f" (reviewer {reviewer})" if reviewer else "")
    if record and model_dir is not None:
        record_figures(model_dir, name if gold and gold.startswith(PREFIX) else f"{name} ({results['split']})",
                       results)
    click.echo(jsonlib.dumps(results, indent=2) if as_json else format_report(results))


@main.group()
def corpus() -> None:
    """Work with annotated corpora (the project's, or your own coding)."""


@corpus.command("validate")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
def corpus_validate(path):
    """Check an annotated corpus (folder or table) and print its label counts.

    PATH defaults to the project's corpus in rupture_detect/data/corpus. Exits 1 if any
    problem is found; each problem names the file and line.
    """
    from ..learn.corpus import format_counts, validate
    result = validate(path)
    if result.counts:
        click.echo(format_counts(result.counts))
    for p in result.problems:
        click.echo(f"problem: {p}", err=True)
    if not result.ok:
        click.echo(f"{len(result.problems)} problem(s) found.", err=True)
        sys.exit(1)
    click.echo("corpus ok.")


def _coder_table(data: Path, coder: str | None, folder: str) -> tuple[Path, str | None]:
    """A review export narrowed to one reviewer's codes (in ``folder``) and the reviewer; any other table or
    folder as it is (and None)."""
    from ..review.export import coder_table, reviewers_in
    if reviewers_in(data) is None:
        if coder:
            raise click.BadParameter(f"{data} has no reviewer column: --coder applies to review exports and "
                                     "annomi:PATH", param_hint="--coder")
        return data, None
    try:
        return coder_table(data, coder, folder)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--coder") from None


def _draw_charts(result, folder: Path) -> None:
    from ..writers.charts import timeline
    by_session: dict[str, list[dict]] = {}
    for r in result.rows:
        by_session.setdefault(str(r["session_id"]), []).append(r)
    for sid, rows in by_session.items():
        timeline(sid, rows, [e for e in result.episodes if str(e["session_id"]) == sid], folder)


def _summary(sessions: list[dict], outdir: Path, ext: str, n_warnings: int = 0) -> None:
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
               f"segments .{ext}; charts/; manifest.json)"
               + (f"; {n_warnings} warning(s) about single rows, listed in manifest.json" if n_warnings else ""))


main.add_command(report)     # the browser-facing commands live in cli/pages.py
main.add_command(study)
main.add_command(review)
