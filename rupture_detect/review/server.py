"""Serving the review app: on 127.0.0.1 only, with a random per-run token, and a request log without text.

Werkzeug's threaded WSGI server (``werkzeug.serving.make_server``): each
request gets its own thread, and each store call its own SQLite connection.
The request log holds the method, the path (never the query string, which
carries the token on the first load) and the status; nothing else.
"""

from __future__ import annotations

import logging
import secrets
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from .app import Workspace, create_app

LOOPBACK = "127.0.0.1"
log = logging.getLogger("rupture_detect.review")


class QuietHandler(WSGIRequestHandler):
    """Logs ``METHOD /path STATUS`` to the ``rupture_detect.review`` logger; no query, no client text."""

    def log_request(self, code="-", size="-") -> None:
        path = (getattr(self, "path", "") or "").split("?", 1)[0]
        log.info("%s %s %s", getattr(self, "command", "-"), path, getattr(code, "value", code))

    def log_error(self, format: str, *args) -> None:      # noqa: A002 - the base class's signature
        log.warning("request error %s", args[0] if args and isinstance(args[0], int) else "")

    def log_message(self, format: str, *args) -> None:    # noqa: A002
        pass


def new_token() -> str:
    return secrets.token_urlsafe(32)


class ReviewServer:
    """The app on ``127.0.0.1:port`` (``port=0``: a free one). ``start()`` serves from a thread (tests),
    ``serve_forever()`` from the caller's; ``stop()`` ends either."""

    def __init__(self, workspace: Workspace, reviewer: str, port: int = 0, host: str = LOOPBACK,
                 token: str | None = None):
        if host != LOOPBACK:
            raise ValueError(f"the review server binds {LOOPBACK} only (asked for {host!r}): transcripts never "
                             "leave this machine")
        self.token = token or new_token()
        self.app = create_app(workspace, self.token, reviewer, hosts=set())
        self.server = make_server(LOOPBACK, port, self.app, threaded=True, request_handler=QuietHandler)
        self.host, self.port = self.server.server_address[:2]
        self.app.config["REVIEW_HOSTS"] = {f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"}
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open: it carries the token (as Jupyter's does)."""
        return f"{self.base}/?token={self.token}"

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def start(self) -> ReviewServer:
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"review-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join(10)
            self._thread = None
        self.server.server_close()
