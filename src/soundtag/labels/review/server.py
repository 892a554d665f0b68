"""The review page's web server: a Starlette app over a :class:`ReviewSession`, served by uvicorn.

Every request needs the session's token, given once in the URL (``/?token=...``), after which an
HttpOnly, SameSite=Strict cookie carries it; the page itself is then reloaded without the token in its
address. Only the train clips of the corpus are served, and only when the file, links resolved, lies
inside the corpus (a link out of it is refused); audio is served with HTTP range requests. Decisions
are written to the review folder only (:class:`~soundtag.labels.review.decisions.DecisionLog`).

Starlette and uvicorn are the ``review`` extra: this module imports them, nothing else in soundtag does.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from soundtag.data import Corpus
from soundtag.data.reviewed import DECISIONS, Decision
from soundtag.labels.review.decisions import DecisionLog
from soundtag.labels.review.pictures import Pictures
from soundtag.labels.review.ranking import SUGGESTIONS, VERDICTS

PAGE_SIZE = 50
MAX_PAGE = 500
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self'; media-src 'self'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


def new_token() -> str:
    """A fresh random session token."""
    return secrets.token_urlsafe(24)


@dataclass
class ReviewSession:
    """What the page works on: the corpus, the ranking of its unverified clips, the decisions so far,
    the pictures, and a line saying where the ranking's scores came from."""

    corpus: Corpus
    ranking: pd.DataFrame
    log: DecisionLog
    pictures: Pictures
    source: str = ""

    def __post_init__(self) -> None:
        self.paths = {clip.fname: clip.path for clip in self.corpus.train}
        root = Path(self.corpus.root)
        self.root = (root if root.is_dir() else root.parent).resolve()
        self.rows = self.ranking.to_dict("records")
        self.fnames = self.ranking["fname"].to_numpy()
        self.given = self.ranking["given"].to_numpy()
        self.row_of = {fname: i for i, fname in enumerate(self.fnames)}
        self._given_sets = [frozenset(text.split(",")) if text else frozenset() for text in self.given]
        cl = self.ranking["cl_doubts"].to_numpy(bool)
        spread = self.ranking["spread_doubts"].fillna(0).to_numpy() > 0
        model = self.ranking["model_doubts"].to_numpy(bool)
        self.verdicts = {"cl_doubts": cl, "spread_doubts": spread, "model_doubts": model,
                         "none_doubt": ~(cl | spread | model)}

    def audio_path(self, fname: str) -> Path | None:
        """The file of train clip ``fname`` when it lies inside the corpus (links resolved), else None."""
        path = self.paths.get(fname)
        if path is None:
            return None
        real = Path(path).resolve()
        return real if real.is_relative_to(self.root) and real.is_file() else None

    def select(self, label: str = "", verdict: str = "", status: str = "pending") -> np.ndarray:
        """Positions in the ranking of the clips that pass the filters (a class, a verdict, and
        ``pending``, ``reviewed`` or ``all``)."""
        mask = np.ones(len(self.fnames), dtype=bool)
        if label:
            mask &= np.fromiter((label in given for given in self._given_sets), bool, len(self.fnames))
        if verdict in self.verdicts:
            mask &= self.verdicts[verdict]
        if status in ("pending", "reviewed"):
            decided = self.log.decided
            done = np.fromiter((fname in decided for fname in self.fnames), bool, len(self.fnames))
            mask &= done if status == "reviewed" else ~done
        return np.flatnonzero(mask)

    def clip_records(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """The clips at ``positions`` as the page shows them."""
        decided = self.log.decided
        return [self.clip_record(int(p), decided) for p in positions]

    def clip_record(self, position: int, decided: dict[str, Decision]) -> dict[str, Any]:
        """One clip as the page shows it (``decided``: the standing decisions)."""
        row = self.rows[position]
        decision = decided.get(row["fname"])
        suggestions = [{"label": row[f"suggestion_{k}"], "probability": float(row[f"probability_{k}"])}
                       for k in range(1, SUGGESTIONS + 1) if f"suggestion_{k}" in row]
        return {"rank": position + 1, "fname": row["fname"], "given": row["given"], "doubt": float(row["doubt"]),
                "verdicts": [name for name, mask in self.verdicts.items() if mask[position] and name != "none_doubt"],
                "model_probability": None if pd.isna(row["model_probability"]) else float(row["model_probability"]),
                "suggestions": suggestions,
                "decision": None if decision is None else {"decision": decision.decision, "label": decision.label}}

    def counts(self) -> dict[str, int]:
        """Clips ranked, reviewed (skips apart), skipped, and labels changed so far."""
        decided = [d for d in self.log.decided.values() if d.fname in self.row_of]
        changed = sum(d.decision == "none" or (d.decision == "relabel" and d.label != self.given_of(d.fname))
                      for d in decided)
        skipped = sum(d.decision == "skip" for d in decided)
        return {"clips": len(self.fnames), "reviewed": len(decided) - skipped, "skipped": skipped, "changed": changed}

    def given_of(self, fname: str) -> str:
        """The given label (comma-separated label set) of ranked clip ``fname``."""
        return str(self.given[self.row_of[fname]])

    def decide(self, fname: str, decision: str, label: str = "") -> Decision:
        """Record a decision on ranked clip ``fname``: ``accept`` takes its given label, ``relabel`` a label
        of the vocabulary (the given one counts as accept); a ValueError says what is wrong."""
        if fname not in self.row_of:
            raise ValueError(f"{fname!r} is not an unverified clip of this review")
        if decision not in DECISIONS:
            raise ValueError(f"unknown decision {decision!r} (known: {', '.join(DECISIONS)})")
        given = self.given_of(fname)
        if decision == "relabel":
            if label not in self.corpus.labels:
                raise ValueError(f"label {label!r} is not in the vocabulary")
            decision = "accept" if label == given else decision
        label = given if decision == "accept" else label if decision == "relabel" else ""
        return self.log.record(fname, decision, label)


def create_app(session: ReviewSession, token: str) -> Starlette:
    """The Starlette app of the review page, every request gated by ``token``."""

    def index(request: Request) -> Response:
        if "token" in request.query_params:  # the cookie is set: drop the token from the address bar
            return RedirectResponse("/", status_code=303)
        page = resources.files("soundtag.labels.review").joinpath("static/index.html").read_text(encoding="utf-8")
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    def state(request: Request) -> Response:
        return JSONResponse({"corpus": Path(session.corpus.root).name, "source": session.source,
                             "labels": session.corpus.labels, "multi_label": session.corpus.multi_label,
                             "verdicts": VERDICTS, "counts": session.counts(), "page_size": PAGE_SIZE})

    def clips(request: Request) -> Response:
        query = request.query_params
        try:
            limit = min(MAX_PAGE, max(1, int(query.get("limit", PAGE_SIZE))))
            start, end = int(query.get("start", 1)), int(query["end"]) if "end" in query else None
        except ValueError:
            return PlainTextResponse("start, end and limit are whole numbers", status_code=400)
        chosen = session.select(query.get("label", ""), query.get("verdict", ""), query.get("status", "pending"))
        if end is not None:  # the clips ranked just before ``end`` (a previous page)
            page = chosen[chosen < end - 1][-limit:]
        else:  # the clips ranked from ``start`` on
            page = chosen[chosen >= start - 1][:limit]
        before = int(np.searchsorted(chosen, page[0])) if len(page) else len(chosen)
        return JSONResponse({"total": len(chosen), "before": before, "counts": session.counts(),
                             "clips": session.clip_records(page)})

    async def decide(request: Request) -> Response:
        try:
            body = await request.json()
            made = session.decide(str(body.get("fname", "")), str(body.get("decision", "")), str(body.get("label", "")))
        except (ValueError, AttributeError) as exc:
            return PlainTextResponse(str(exc), status_code=400)
        return JSONResponse({"decision": {"fname": made.fname, "decision": made.decision, "label": made.label},
                             "counts": session.counts()})

    def undo(request: Request) -> Response:
        undone = session.log.undo()
        return JSONResponse({"undone": None if undone is None else undone.fname, "counts": session.counts()})

    def audio(request: Request) -> Response:
        path = session.audio_path(request.path_params["fname"])
        if path is None:
            return PlainTextResponse("not an audio file of this corpus", status_code=404)
        return FileResponse(path, headers={"cache-control": "private, max-age=3600"})

    def picture(request: Request) -> Response:
        path = session.audio_path(request.path_params["fname"])
        if path is None:
            return PlainTextResponse("not an audio file of this corpus", status_code=404)
        return FileResponse(session.pictures.png(path), media_type="image/png",
                            headers={"cache-control": "private, max-age=3600"})

    routes = [Route("/", index), Route("/api/state", state), Route("/api/clips", clips),
              Route("/api/decision", decide, methods=["POST"]), Route("/api/undo", undo, methods=["POST"]),
              Route("/audio/{fname:path}", audio), Route("/picture/{fname:path}", picture),
              Mount("/static", StaticFiles(packages=[("soundtag.labels.review", "static")]))]
    return TokenGate(Starlette(routes=routes), token)


class TokenGate:
    """ASGI middleware: a request passes with the session's cookie or a ``?token=`` query (which sets the
    cookie); anything else gets 403. Every response carries the security headers."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = "soundtag_review_" + hashlib.sha256(token.encode()).hexdigest()[:10]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        with_cookie = secrets.compare_digest(request.cookies.get(self.cookie, ""), self.token)
        with_query = secrets.compare_digest(request.query_params.get("token", ""), self.token)
        if not (with_cookie or with_query):
            response = PlainTextResponse("soundtag review: open the address with ?token=... that "
                                         "`soundtag review` printed", status_code=403)
            await response(scope, receive, self._headers(send, set_cookie=False))
            return
        await self.app(scope, receive, self._headers(send, set_cookie=with_query and not with_cookie))

    def _headers(self, send: Send, set_cookie: bool) -> Send:
        """``send`` adding the security headers (and the cookie) to the response's start."""
        cookie = (f"{self.cookie}={self.token}; Path=/; HttpOnly; SameSite=Strict").encode()

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if set_cookie:
                    headers.append((b"set-cookie", cookie))
                message = {**message, "headers": headers}
            await send(message)

        return wrapped
