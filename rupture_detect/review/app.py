"""The review web app (Flask): one page, its static files, and a small JSON API over the queue and the store.

Every request must carry the run's token: ``?token=`` on the first page load
(answered with an HttpOnly, SameSite=Strict cookie named for the port, and a redirect that drops it
from the address bar), else the cookie, an ``Authorization: Token ...`` header
or an ``X-Review-Token`` header. Without it: 403. Requests for any Host but
this server's loopback address are refused too (DNS rebinding). Every response
carries a strict Content-Security-Policy; the page's only script is the
package's own static file. Transcript text goes into JSON responses only,
never into a log.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
from collections.abc import Callable

from flask import Flask, jsonify, redirect, render_template, request

from ..taxonomy import DIMENSIONS, FAMILIES, load_taxonomy
from .export import export_frame
from .queue import SORTS, STATUSES, ReviewSet
from .store import NothingToUndo, ReviewError, StaleTurn, Store, StoreError, UnknownTurn

COOKIE = "rupture_review_token"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
REVIEWER = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
log = logging.getLogger("rupture_detect.review")


class Workspace:
    """What the app serves: the queue and the store. With ``reload`` and ``stamp`` (an output folder), the
    queue is read again when the folder's tables change, and the store's snapshot of turns follows."""

    def __init__(self, store: Store, review: ReviewSet, reload: Callable[[], ReviewSet] | None = None,
                 stamp: Callable[[], tuple] | None = None):
        self.store, self._review, self._reload, self._stamp_of = store, review, reload, stamp
        self._stamp = stamp() if stamp else None
        self._lock = threading.Lock()
        self.changed = store.sync_turns(review.turn_rows(), review.source, review.model)

    def review(self) -> ReviewSet:
        if self._reload is None or self._stamp_of is None:
            return self._review
        try:
            stamp = self._stamp_of()
        except OSError:
            return self._review
        if stamp == self._stamp:
            return self._review
        with self._lock:
            if stamp != self._stamp:
                try:
                    fresh = self._reload()
                except Exception as err:  # noqa: BLE001 - a folder being rewritten: keep serving what we have
                    log.warning("could not read the source again (%s); keeping the queue as loaded",
                                type(err).__name__)
                    return self._review
                self.changed = self.store.sync_turns(fresh.turn_rows(), fresh.source, fresh.model)
                self._review, self._stamp = fresh, stamp
                log.info("source changed: queue reloaded")
        return self._review


def create_app(workspace: Workspace, token: str, reviewer: str, hosts: set[str] | None = None) -> Flask:
    """The app. ``hosts``: the Host header values to accept (the server fills in its port); None skips the
    check (only for tests that do not go through a socket)."""
    if not REVIEWER.match(reviewer or ""):
        raise ValueError(f"reviewer name must be 1-64 printable characters, not {reviewer!r}")
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.jinja_env.autoescape = True
    app.config.update(MAX_CONTENT_LENGTH=64 * 1024, REVIEW_HOSTS=hosts)
    app.json.sort_keys = False
    tax = load_taxonomy()

    def refuse(status: int, message: str):
        if request.path.startswith("/api/"):
            return jsonify(error=message), status
        return (f"<!DOCTYPE html><title>Refused</title><p>{message}</p>", status,
                {"Content-Type": "text/html; charset=utf-8"})

    @app.before_request
    def guard():
        allowed = app.config["REVIEW_HOSTS"]
        if allowed is not None and request.host not in allowed:
            return refuse(403, "Refused: this review server answers on its loopback address only.")
        offered = request.args.get("token") if request.path == "/" and request.method == "GET" else None
        if offered is not None:
            if not secrets.compare_digest(offered.encode(), token.encode()):
                return refuse(403, "Refused: wrong token. Open the URL that rupture-detect review printed.")
            resp = redirect("/", code=303)
            resp.set_cookie(_cookie(), token, httponly=True, samesite="Strict", path="/")
            return resp
        if not secrets.compare_digest(_presented().encode(), token.encode()):
            return refuse(403, "Refused: this review server needs its access token. Open the URL that "
                               "rupture-detect review printed (it ends in ?token=...).")
        if request.method == "POST" and not request.is_json:
            return refuse(415, "Send JSON (Content-Type: application/json).")
        return None

    @app.after_request
    def headers(resp):
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    for error, status in ((ReviewError, 400), (UnknownTurn, 404), (StaleTurn, 409), (NothingToUndo, 409),
                          (StoreError, 500)):
        app.register_error_handler(error, lambda err, status=status: (jsonify(error=str(err)), status))

    def who() -> str:
        name = (request.get_json(silent=True) or {}).get("reviewer") if request.is_json else None
        name = (name if name is not None else request.args.get("reviewer", reviewer)).strip()
        if not REVIEWER.match(name):
            raise ReviewError("reviewer name must be 1-64 printable characters")
        return name

    def state_of(name: str) -> dict:
        return workspace.store.state(name)

    def arg_float(name: str) -> float | None:
        raw = request.args.get(name, "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise ReviewError(f"{name} must be a number between 0 and 1") from None
        if not 0 <= value <= 1:
            raise ReviewError(f"{name} must be between 0 and 1")
        return value

    @app.get("/")
    def page():
        review = workspace.review()
        return render_template("review.html", reviewer=reviewer, source=review.source, model=review.model,
                               threshold=review.threshold, sessions=list(review.sessions), families=FAMILIES,
                               dimensions=DIMENSIONS, markers=list(tax.markers.values()), statuses=STATUSES)

    @app.get("/api/items")
    def items():
        review, name = workspace.review(), who()
        sort, status = request.args.get("sort", "order"), request.args.get("status", "all")
        family, subtype = request.args.get("family", ""), request.args.get("subtype", "")
        if sort not in SORTS or status not in STATUSES or family not in ("", *FAMILIES) or \
                subtype not in ("", *tax.markers):
            raise ReviewError("unknown sort, status, family or subtype")
        state = state_of(name)
        found = review.queue(state, session=request.args.get("session", ""), family=family, subtype=subtype,
                             min_conf=arg_float("min_conf"), max_conf=arg_float("max_conf"), status=status, sort=sort)
        return jsonify(items=found, progress=review.progress(state), reviewer=name, threshold=review.threshold)

    @app.get("/api/item")
    def item():
        review, name = workspace.review(), who()
        sid, turn = request.args.get("session", ""), request.args.get("turn", "")
        detail = review.detail(sid, turn, state_of(name).get((sid, turn)), workspace.store.history(sid, turn))
        if detail is None:
            raise UnknownTurn(f"no turn {turn!r} in session {sid!r}")
        return jsonify(detail)

    @app.get("/api/session")
    def session():
        review, name = workspace.review(), who()
        sid = request.args.get("session", "")
        turns = review.session_view(sid, state_of(name))
        if turns is None:
            raise UnknownTurn(f"no session {sid!r}")
        return jsonify(session_id=sid, turns=turns)

    @app.get("/api/search")
    def search():
        found, total = workspace.review().search(request.args.get("q", ""), request.args.get("session", ""))
        return jsonify(results=found, total=total)

    @app.post("/api/decisions")
    def decide():
        review, name = workspace.review(), who()
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ReviewError("send a JSON object")
        fields = {k: body.get(k, "") for k in ("session_id", "turn", "hash", "action", "marker", "subtype",
                                                "dimension", "memo")}
        if not all(isinstance(v, str) for v in fields.values()):
            raise ReviewError("session_id, turn, hash, action, marker, subtype, dimension and memo are strings")
        decision = workspace.store.record(
            reviewer=name, session_id=fields["session_id"], turn=fields["turn"], text_hash=fields["hash"],
            action=fields["action"], marker=fields["marker"], subtype=fields["subtype"],
            dimension=fields["dimension"], memo=fields["memo"])
        return jsonify(decision=decision, progress=review.progress(state_of(name))), 201

    @app.post("/api/undo")
    def undo():
        review, name = workspace.review(), who()
        body = request.get_json(silent=True) or {}
        target = body.get("id")
        if target is not None and (not isinstance(target, int) or isinstance(target, bool)):
            raise ReviewError("id must be a decision id (an integer)")
        result = workspace.store.undo(name, target)
        return jsonify(**result, progress=review.progress(state_of(name)))

    @app.get("/api/export.csv")
    def export():
        wanted = request.args.get("reviewer", "")
        try:
            frame, _ = export_frame(workspace.store, [wanted] if wanted else None)
        except ValueError as err:
            raise UnknownTurn(str(err)) from None
        return (frame.to_csv(index=False), 200, {"Content-Type": "text/csv; charset=utf-8",
                                                  "Content-Disposition": 'attachment; filename="review_codes.csv"'})

    return app


def _presented() -> str:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Token "):
        return auth[len("Token "):].strip()
    return request.headers.get("X-Review-Token") or request.cookies.get(_cookie()) or ""


def _cookie() -> str:
    """The cookie's name carries the port: cookies are shared across ports, so two review servers on one
    machine would otherwise overwrite each other's token."""
    return f"{COOKIE}_{request.host.rsplit(':', 1)[-1]}"
