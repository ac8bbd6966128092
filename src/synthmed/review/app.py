"""The reader-study web app (FastAPI): reader pages, answers API, owner results page.

A reader reaches everything through a private token: ``/r/TOKEN`` (page),
``/api/r/TOKEN/next``, ``/api/r/TOKEN/image/ITEM`` and ``POST /api/r/TOKEN/answer`` (with the
reader's CSRF token in the ``X-CSRF-Token`` header). Nothing a reader can fetch names an
item's origin or source file. The owner sees ``/owner/TOKEN``, with its plots at
``/owner/TOKEN/accuracy.svg`` and ``/owner/TOKEN/roc.svg``.
"""

from __future__ import annotations

import hmac
import sqlite3
from contextlib import closing
from importlib import resources
from pathlib import Path
from typing import Literal, Optional

from synthmed.errors import SynthmedError

try:
    from fastapi import FastAPI, Header, HTTPException
    from fastapi.responses import HTMLResponse, Response
    from pydantic import BaseModel, Field
except ImportError:  # pragma: no cover - depends on the environment
    raise SynthmedError("the reader study needs the review extra: pip install 'synthmed[review]'") from None

from synthmed.review.pages import owner_page, reader_page
from synthmed.review.plots import accuracy_svg, roc_svg
from synthmed.review.results import study_results
from synthmed.review.study import connect, read_settings

__all__ = ["create_app", "Answer"]

HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'self'; img-src 'self'; object-src 'none'; "
                                      "frame-ancestors 'none'; base-uri 'none'"}
# matplotlib's SVG styles its elements inline; an SVG shown through <img> runs no script
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
PLOTS = {"accuracy.svg": accuracy_svg, "roc.svg": roc_svg}
STATIC = {"reader.js": "text/javascript", "review.css": "text/css"}


class Answer(BaseModel):
    """One answer as a reader posts it."""

    model_config = {"extra": "forbid"}
    item: str = Field(max_length=64)
    call: Optional[Literal["real", "synthetic"]] = None
    confidence: Optional[int] = Field(None, ge=1, le=5)
    grade: Optional[int] = Field(None, ge=0, le=100)
    comment: str = Field("", max_length=2000)


def create_app(study: str | Path) -> FastAPI:
    """The app serving one study folder (made by :func:`synthmed.review.study.create_study`).

    >>> app = create_app("study/")        # doctest: +SKIP
    >>> import uvicorn; uvicorn.run(app)  # doctest: +SKIP
    """
    study = Path(study)
    connect(study).close()  # fail now if there is no study
    app = FastAPI(title="synthmed reader study", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def security_headers(request, call_next):
        response = await call_next(request)
        response.headers.update(HEADERS)
        if response.headers.get("content-type", "").startswith("image/svg+xml"):
            response.headers["Content-Security-Policy"] = SVG_CSP
        return response

    def db():
        return closing(connect(study))

    def reader(con, token: str) -> tuple[int, str]:
        row = con.execute("SELECT id, csrf FROM readers WHERE token = ?", (token,)).fetchone()
        if row is None:
            raise HTTPException(404, "unknown link")
        return row

    def setting(con, key: str) -> str:
        return read_settings(con)[key]

    def check_owner(token: str) -> None:
        with db() as con:
            expected = setting(con, "owner_token")
        if not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(404, "unknown link")

    def state(con, reader_id: int) -> dict:
        total, done = con.execute(
            "SELECT COUNT(*), COUNT(a.item_id) FROM assignments s LEFT JOIN answers a "
            "ON a.reader_id = s.reader_id AND a.item_id = s.item_id WHERE s.reader_id = ?",
            (reader_id,)).fetchone()
        nxt = con.execute(
            "SELECT s.item_id FROM assignments s WHERE s.reader_id = ? AND NOT EXISTS (SELECT 1 "
            "FROM answers a WHERE a.reader_id = s.reader_id AND a.item_id = s.item_id) "
            "ORDER BY s.position LIMIT 1", (reader_id,)).fetchone()
        return {"item": nxt[0] if nxt else None, "answered": done, "total": total}

    @app.get("/r/{token}", response_class=HTMLResponse)
    def page(token: str):
        with db() as con:
            _, csrf = reader(con, token)
            settings = read_settings(con)
        return reader_page(token, csrf, settings["task"], int(settings["grade_max"]),
                           settings["grade_name"])

    @app.get("/api/r/{token}/next")
    def next_item(token: str):
        with db() as con:
            reader_id, _ = reader(con, token)
            return state(con, reader_id)

    @app.get("/api/r/{token}/image/{item}")
    def image(token: str, item: str):
        with db() as con:
            reader_id, _ = reader(con, token)
            row = con.execute("SELECT i.png FROM assignments s JOIN items i ON i.id = s.item_id "
                              "WHERE s.reader_id = ? AND s.item_id = ?", (reader_id, item)).fetchone()
        if row is None:
            raise HTTPException(404, "no such item")
        return Response(row[0], media_type="image/png")

    @app.post("/api/r/{token}/answer")
    def answer(token: str, body: Answer, x_csrf_token: str = Header("")):
        with db() as con:
            reader_id, csrf = reader(con, token)
            if not hmac.compare_digest(x_csrf_token.encode(), csrf.encode()):
                raise HTTPException(403, "missing or wrong CSRF token; reload the page")
            task = setting(con, "task")
            if task != "grade" and (body.call is None or body.confidence is None):
                raise HTTPException(422, "answer real or synthetic, with a confidence 1-5")
            if task != "turing" and body.grade is not None and body.grade > int(setting(con, "grade_max")):
                raise HTTPException(422, "grade out of range")
            if task == "grade" and body.grade is None:
                raise HTTPException(422, "give a grade")
            con.execute("BEGIN IMMEDIATE")
            try:
                if not con.execute("SELECT 1 FROM assignments WHERE reader_id = ? AND item_id = ?",
                                   (reader_id, body.item)).fetchone():
                    raise HTTPException(404, "no such item")
                con.execute("INSERT INTO answers (reader_id, item_id, call, confidence, grade, "
                            "comment) VALUES (?, ?, ?, ?, ?, ?)",
                            (reader_id, body.item, body.call, body.confidence,
                             body.grade if task != "turing" else None, body.comment))
                con.execute("COMMIT")
            except sqlite3.IntegrityError:
                con.execute("ROLLBACK")
                raise HTTPException(409, "this item is already answered") from None
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return state(con, reader_id)

    @app.get("/owner/{token}", response_class=HTMLResponse)
    def owner(token: str):
        check_owner(token)
        return owner_page(study_results(study), f"/owner/{token}")

    @app.get("/owner/{token}/{name}")
    def plot(token: str, name: str):
        check_owner(token)
        if name not in PLOTS:
            raise HTTPException(404, "not found")
        return Response(PLOTS[name](study_results(study)), media_type="image/svg+xml")

    @app.get("/static/{name}")
    def static(name: str):
        if name not in STATIC:
            raise HTTPException(404, "not found")
        body = resources.files("synthmed.review").joinpath("static", name).read_bytes()
        return Response(body, media_type=STATIC[name])

    return app
