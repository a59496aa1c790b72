"""The review web app: a thin layer of pages and forms over review/ and the warehouse.

Safety, in the order a request meets it:
* every request body is bounded while it streams in (BodyLimit);
* every route but /login needs a live session: a token in a signed cookie (HttpOnly,
  SameSite=Strict, Secure with TAGWATCH_WEB_SECURE_COOKIE=1) naming a session in the
  warehouse that logout, a password change or removal of the user ends, as do the idle
  and absolute time-outs; logins are throttled (webapp.guard);
* every form carries the session's CSRF token, checked before anything is read;
* analysts may change things, viewers only read; school contacts see only the intake
  pages (/school: their own school's reports, and the form), never the review pages;
* the intake form is size-limited (request body, URLs, text) and rate-limited per account,
  and its URLs are fetched only from the configured platform hosts (review.schools);
* templates autoescape (post text is written by abusers), and a Content-Security-Policy
  allows only this app's own inline CSS and JS, by hash.
These checks are dependencies (webapp.web) that the routers (webapp.routes, one per area)
declare; a refusal and a busy warehouse are each answered by one exception handler here.

The warehouse is shared with the loader, which holds the DuckDB file while it loads: requests
use one connection at a time in this process, kept open between requests only while no other
process asks for the file (webapp.web.Store); opening waits a few seconds for the loader
(warehouse.db.connect retries on the lock), then shows the busy page.
A decision is written before the page answers, so what the reviewer sees as done is in the
warehouse. Work that asks a platform waits a few seconds too, then carries on in the
background (webapp.web.Background).
"""
from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI, Request
from starlette.middleware.sessions import SessionMiddleware

from warehouse.db import WarehouseError
from webapp.routes import auth, cases, dashboard, resurfacing, school
from webapp.web import (CSP, LOCK_WAIT_SECONDS, MAX_FORM_BYTES, WEB_WAIT_SECONDS, Background, BodyLimit,
                        Refused, Store, TooLarge, Web, templates, too_large)

__all__ = ["CSP", "LOCK_WAIT_SECONDS", "MAX_FORM_BYTES", "Store", "create_app"]


def create_app(db_path, secret_key: str | None = None, lock_wait: float = LOCK_WAIT_SECONDS,
               settings=None, web_wait: float = WEB_WAIT_SECONDS) -> FastAPI:
    """`settings` (tagwatch.config.Settings) give re-checks their user agent, retries and
    platform credentials, as collection has them, and the sessions their time-outs and
    cookie flags; read from the environment if not given."""
    from tagwatch.config import Settings

    settings = settings or Settings.from_env(db_path=db_path)
    absolute = timedelta(hours=settings.web_session_hours)
    store = Store(db_path, lock_wait)

    @asynccontextmanager
    async def lifespan(app):
        yield
        store.close()   # let go of the warehouse file when the server stops

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.web = Web(store, templates(), settings,
                        idle=timedelta(minutes=settings.web_idle_minutes), absolute=absolute,
                        background=Background(web_wait))
    app.add_middleware(BodyLimit, limit=MAX_FORM_BYTES)
    # A key made at start-up signs cookies unless one is given: a restart logs everyone out.
    # The cookie only carries the session's token: the warehouse says whether it is alive.
    app.add_middleware(SessionMiddleware, secret_key=secret_key or secrets.token_hex(32),
                       session_cookie="tagwatch_session", max_age=int(absolute.total_seconds()),
                       same_site="strict", https_only=settings.web_secure_cookie)
    app.middleware("http")(security_headers)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(TooLarge, lambda request, exc: too_large())
    app.add_exception_handler(WarehouseError, busy)
    for area in (auth, cases, school, dashboard, resurfacing):
        app.include_router(area.router)
    return app


async def security_headers(request: Request, call_next):
    response = await call_next(request)
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


async def refused(request: Request, exc: Refused):
    return exc.response


async def busy(request: Request, exc: WarehouseError):
    """The loader held the file longer than a request waits: nothing was read or changed."""
    return request.app.state.web.render(request, "busy.html", status=503, reason=str(exc))
