"""``rupture-detect report`` and ``rupture-detect study``: the browser-facing commands.

Registered on the main group by :mod:`rupture_detect.cli.main`. They print counts
and paths only, never transcript text (the terminal quiz shows corpus
exchanges on purpose: that is its job).
"""

from __future__ import annotations

from pathlib import Path

import click

from .options import dask_client, model_options, read_options, reading_options, run_options


@click.command()
@click.argument("inputs", nargs=-1, required=True, type=str)
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="The HTML file to write.")
@click.option("--title", help="Page title (default: 'Alliance rupture report').")
@click.option("--context", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Utterances shown before and after each flagged turn.")
@reading_options
@model_options
@run_options
def report(inputs, out, title, context, **kw):
    """Write a self-contained HTML report (works offline) for one or many sessions.

    INPUTS is an output folder of `rupture-detect score` (utterances, sessions
    and, when present, episodes, segments, charts and the run's manifest), or
    transcript files, folders or globs, which are scored first with the same
    reading, model and run options as `score`.
    """
    from ..pages.report import is_outdir, read_outdir, render_report, tables_from_scores, write_page

    if len(inputs) == 1 and is_outdir(inputs[0]):
        try:
            tables = read_outdir(inputs[0])
        except Exception as err:      # noqa: BLE001 - any unreadable table: one line, exit 2, no traceback
            raise click.BadParameter(f"{inputs[0]}: not a readable score output folder ({type(err).__name__}: "
                                     f"{err})", param_hint="INPUTS") from None
    else:
        from ..api import score
        options = read_options(kw)
        try:
            scores = score(list(inputs), therapist=options.therapists, speakers=options.speakers,
                           columns=options.columns, fmt=options.fmt, strict=options.strict,
                           model=None if kw["rules_only"] else (kw["model_dir"] or "default"),
                           jobs=kw["jobs"] or 1, client=dask_client(kw["dask_address"]))
        except ValueError as err:
            raise click.UsageError(str(err)) from None
        for warning in scores.warnings[:1] if scores.model.get("id") == "rules-only" and not kw["rules_only"] else ():
            click.echo(f"warning: {warning}", err=True)
        for err in scores.errors:
            click.echo(f"error: {err}", err=True)
        tables = tables_from_scores(scores, source=", ".join(inputs))
    html = render_report(tables, title=title, context=context)
    write_page(html, out)
    n_sessions = tables.utterances["session_id"].nunique()
    n_flagged = int(tables.utterances["marker"].isin(["withdrawal", "confrontation"]).sum())
    click.echo(f"report: {n_sessions} session(s), {n_flagged} flagged exchange(s) -> {out}")


@click.command()
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the study library (with its in-page quiz) to this HTML file.")
@click.option("--quiz", is_flag=True, help="Run the quiz in the terminal (answers from stdin).")
@click.option("--n", "n_questions", type=click.IntRange(1, 200), default=10, show_default=True,
              help="Quiz questions (terminal and page).")
@click.option("--per-marker", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Examples per marker in the library.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for drawing examples and questions.")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path),
              help="Annotated corpus folder or table with a train split (default: the shipped corpus).")
def study(out, quiz, n_questions, per_marker, seed, corpus):
    """Study the 14 markers: annotated examples from the corpus's train split, and a quiz.

    With -o, writes an HTML library (one section per marker: exchanges, what
    makes it this marker and not its neighbours, the repair that would fit)
    ending in an interactive quiz. With --quiz, asks questions in the
    terminal: family, subtype and dimension, then reveals and explains.
    """
    from ..pages.report import write_page
    from ..pages.study import draw_examples, draw_quiz, render_study, run_quiz, train_examples

    if not out and not quiz:
        raise click.UsageError("give -o FILE for the study page, or --quiz for the terminal quiz")
    try:
        if out:
            write_page(render_study(per_marker, seed, n_questions, corpus), out)
            click.echo(f"study library: 14 markers, {per_marker} example(s) each, {n_questions} quiz question(s) "
                       f"-> {out}", err=quiz)
        if quiz:
            pool = train_examples(corpus)
            shown = [e for exs in draw_examples(pool, per_marker, seed).values() for e in exs]
            run_quiz(draw_quiz(pool, n_questions, seed, exclude=shown), _ask, click.echo)
    except ValueError as err:
        raise click.UsageError(str(err)) from None


def _ask(prompt: str) -> str:
    try:
        return click.prompt(prompt, default="", show_default=False, prompt_suffix=": ")
    except click.Abort:
        raise EOFError from None
