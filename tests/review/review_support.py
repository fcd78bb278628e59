"""Helpers for the review tests: a real review server on a free port (in a thread) and a small HTTP client.

The outdir is test_report's tiny score output folder: session s1 (client turns 2, 4 and 8 flagged, 6 not)
and session s2 (client turns 2 and 4 flagged, 6 not); no manifest, so the threshold is the rules' 0.5.
"""

from __future__ import annotations

import http.client
import json
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from rupture_detect.review.app import Workspace
from rupture_detect.review.queue import from_outdir, outdir_stamp
from rupture_detect.review.server import ReviewServer
from rupture_detect.review.store import Store


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


class Api:
    """Requests to one server; the token goes in ``X-Review-Token`` unless told otherwise."""

    def __init__(self, server: ReviewServer, reviewer: str = "alice"):
        self.server, self.port, self.token, self.reviewer = server, server.port, server.token, reviewer

    def raw(self, method: str, path: str, body=None, headers: dict | None = None, token: bool = True,
            host: str = "127.0.0.1") -> Reply:
        conn = http.client.HTTPConnection(host, self.port, timeout=60)
        hdrs = dict(headers or {})
        if token:
            hdrs.setdefault("X-Review-Token", self.token)
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            hdrs.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Reply(resp.status, resp.headers, resp.read())
        finally:
            conn.close()

    def get(self, path: str, expect: int = 200, **params):
        params.setdefault("reviewer", self.reviewer)
        reply = self.raw("GET", f"{path}?{urlencode(params)}")
        assert reply.status == expect, (reply.status, reply.body[:300])
        return reply.json() if reply.headers.get_content_type() == "application/json" else reply.body

    def item(self, session: str, turn, **params) -> dict:
        return self.get("/api/item", session=session, turn=str(turn), **params)

    def decide(self, session: str, turn, action: str, expect: int = 201, reviewer: str | None = None,
               text_hash: str | None = None, **fields) -> dict:
        turn = str(turn)
        if text_hash is None:
            text_hash = self.item(session, turn)["hash"]
        body = {"session_id": session, "turn": turn, "hash": text_hash, "action": action,
                "reviewer": reviewer or self.reviewer, **fields}
        reply = self.raw("POST", "/api/decisions", body)
        assert reply.status == expect, (reply.status, reply.body[:300])
        return reply.json()

    def undo(self, expect: int = 200, reviewer: str | None = None, **fields) -> dict:
        reply = self.raw("POST", "/api/undo", {"reviewer": reviewer or self.reviewer, **fields})
        assert reply.status == expect, (reply.status, reply.body[:300])
        return reply.json()


def workspace(outdir: Path, db: Path) -> Workspace:
    return Workspace(Store(db), from_outdir(outdir), lambda: from_outdir(outdir), lambda: outdir_stamp(outdir))


@contextmanager
def serving(outdir: Path, db: Path, reviewer: str = "alice"):
    server = ReviewServer(workspace(outdir, db), reviewer).start()
    try:
        yield Api(server, reviewer)
    finally:
        server.stop()
