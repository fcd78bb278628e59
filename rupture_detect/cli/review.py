"""``rupture-detect review``: the review page (``review serve``, also ``review INPUT``) and ``review export``.

Registered on the main group by :mod:`rupture_detect.cli.main`. The commands print
counts, paths and the page's address only, never transcript text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import model_options, read_options, reading_options

DEFAULT_DB = Path("review.sqlite")
DEFAULT_PORT = 8765


class _ReviewGroup(click.Group):
    """``review INPUT...`` is ``review serve INPUT...``: a first argument that names no subcommand goes to serve."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ReviewGroup)
def review() -> None:
    """Review flagged turns in the browser; export the codes for train and evaluate.

    \b
    rupture-detect review OUTDIR_OR_TRANSCRIPTS [--db review.sqlite] [--reviewer NAME] [--port N]
    rupture-detect review export [--db review.sqlite] -o codes.csv
    """


def _default_reviewer() -> str:
    import getpass
    try:
        return getpass.getuser() or "reviewer"
    except (KeyError, OSError):
        return "reviewer"


@review.command("serve")
@click.argument("inputs", nargs=-1, required=True, type=str, metavar="INPUT_OR_OUTDIR...")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True,
              help="The SQLite file that keeps every decision (created if missing; share it to pool a team's work).")
@click.option("--reviewer", help="Your name on every decision (default: your login name; the page can change it).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="Port on 127.0.0.1 (0 picks a free one). The server never listens on other interfaces.")
@click.option("--context", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Utterances shown before and after each flagged turn.")
@click.option("--threshold", type=click.FloatRange(0, 1),
              help="The flagging threshold that 'most uncertain first' measures from (default: the model card's).")
@click.option("--open", "open_browser", is_flag=True, help="Also open the page in this machine's web browser.")
@click.option("-v", "--verbose", is_flag=True, help="Log each request (method, path and status only) on stderr.")
@reading_options
@model_options
def serve(inputs, db, reviewer, port, context, threshold, open_browser, verbose, **kw):
    """Serve the review page on 127.0.0.1 and print its address (with the access token).

    INPUT_OR_OUTDIR is an output folder of `rupture-detect score` (read again
    when score rewrites it) or transcript files, folders or globs (scored
    first, quietly, with the reading and model options of `score`).
    Decisions go to the SQLite file --db: one row per decision, never
    overwritten; Ctrl-C stops the server and loses nothing.
    """
    import logging

    from ..review.app import Workspace
    from ..review.server import ReviewServer
    from ..review.store import Store, StoreError

    reviewer = (reviewer or _default_reviewer()).strip()
    review_set, reload, stamp = _load(inputs, context, threshold, kw)
    try:
        store = Store(db)
    except StoreError as err:
        raise click.BadParameter(str(err), param_hint="--db") from None
    workspace = Workspace(store, review_set, reload, stamp)
    if workspace.changed:
        click.echo(f"warning: {len(workspace.changed)} turn(s) have different text from when they were decided; "
                   "those decisions no longer count (they stay in the history)", err=True)
    try:
        server = ReviewServer(workspace, reviewer, port)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--reviewer") from None
    except OSError as err:
        raise click.UsageError(f"cannot listen on 127.0.0.1:{port} ({err.strerror or err}); choose another --port "
                               "(0 picks a free one)") from None
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logging.getLogger("rupture_detect.review").addHandler(handler)
        logging.getLogger("rupture_detect.review").setLevel(logging.INFO)
    click.echo(f"review: {len(review_set.sessions)} session(s), {len(review_set.flagged)} flagged client turn(s); "
               f"decisions go to {db} as {reviewer}")
    click.echo("Open this address in a browser on this machine (it carries the access token):")
    click.echo(f"    {server.url}", color=False)
    click.echo("Ctrl-C stops the server; every decision is saved as it is made.")
    sys.stdout.flush()
    if open_browser:
        import webbrowser
        webbrowser.open(server.url)
    try:
        server.serve_forever()          # werkzeug's server returns on Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    click.echo(f"\nreview server stopped; decisions are in {db}", err=True)


def _load(inputs, context, threshold, kw):
    """The queue, and how to read it again when its output folder changes (transcripts are read once)."""
    from ..pages.report import is_outdir
    from ..review.queue import from_outdir, from_scores, outdir_stamp

    if len(inputs) == 1 and is_outdir(inputs[0]):
        path = Path(inputs[0])
        try:
            return (from_outdir(path, context, threshold), lambda: from_outdir(path, context, threshold),
                    lambda: outdir_stamp(path))
        except Exception as err:      # noqa: BLE001 - any unreadable table: one line, exit 2, no traceback
            raise click.BadParameter(f"{path}: not a readable score output folder ({type(err).__name__}: {err})",
                                     param_hint="INPUT_OR_OUTDIR") from None
    from ..api import ModelError, score
    options = read_options(kw)
    try:
        scores = score(list(inputs), therapist=options.therapists, speakers=options.speakers, columns=options.columns,
                       fmt=options.fmt, strict=options.strict,
                       model=None if kw["rules_only"] else (kw["model_dir"] or "default"))
    except ModelError as err:
        raise click.BadParameter(str(err), param_hint="--model") from None
    except ValueError as err:
        raise click.UsageError(str(err)) from None
    if scores.model.get("id") == "rules-only" and not kw["rules_only"]:
        click.echo(f"warning: {scores.model.get('reason')}", err=True)
    for err in scores.errors:
        click.echo(f"error: {err}", err=True)
    try:
        return from_scores(scores, ", ".join(inputs), context, threshold), None, None
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="INPUT_OR_OUTDIR") from None


@review.command("export")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB, show_default=True,
              help="The review database.")
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The CSV to write (atomically: a temporary file beside it, then a rename).")
@click.option("--reviewer", "reviewers", multiple=True, metavar="NAME",
              help="Only this reviewer's codes (repeatable; default: every reviewer, one block of rows each).")
@click.option("--unflagged-as-none", is_flag=True,
              help="Code client turns the tool did not flag and the reviewer did not mark as missed as 'none', "
                   "in each session the reviewer worked in. Only when reviewers read whole sessions.")
def export(db, out, reviewers, unflagged_as_none):
    """Write the review codes as an annotated table for train and evaluate.

    The scorer's columns, with marker, subtype and dimension holding the
    reviewer's codes (empty on turns the reviewer did not code, which train
    and evaluate leave out), the tool's own decision in tool_marker,
    tool_subtype and tool_dimension, then decision, memo, reviewer,
    reviewed_at and model. Then: rupture-detect train codes.csv -o MODEL
    (--coder NAME when several reviewers), or rupture-detect evaluate
    codes.csv --coder NAME [--against OTHER|tool].
    """
    from ..review.export import export_frame, write_table
    from ..review.store import Store, StoreError

    try:
        store = Store(db, create=False)
    except StoreError as err:
        raise click.BadParameter(str(err), param_hint="--db") from None
    try:
        frame, counts = export_frame(store, reviewers, unflagged_as_none)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--reviewer") from None
    if not counts["coded"]:
        click.echo(f"{db}: no coded turns yet; nothing written", err=True)
        sys.exit(1)
    try:
        write_table(frame, out)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="-o") from None
    except OSError as err:
        raise click.ClickException(f"{out}: cannot write ({err.strerror or err})") from None
    click.echo(f"review codes: {counts['reviewers']} reviewer(s), {counts['coded']} coded client turn(s) in "
               f"{counts['sessions']} session(s), {counts['rows']} rows -> {out}")
    if counts["stale"]:
        click.echo(f"{counts['stale']} decision(s) made on text that has changed since were left out", err=True)
