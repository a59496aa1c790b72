"""Logging in and out.

A login is admitted only if neither its name nor its address is locked out and few logins
are in progress (webapp.guard); the stored hash is read in a short warehouse connection and
checked after it is closed, on the guard's hashing thread; a right password starts a session
in the warehouse (review.sessions), a wrong one counts towards the lock-out and is logged.
"""
from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from review import sessions, users
from webapp.guard import TooMany
from webapp.web import UserForm, csrf, local, utcnow, web

router = APIRouter()


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return web(request).render(request, "login.html", next=local(next))


@router.post("/login")
async def login(request: Request):
    app = web(request)
    form = dict(await request.form())
    if not hmac.compare_digest(str(form.get("csrf", "")), csrf(request)):
        return Response("the form has expired: reload the login page", status_code=403)
    name, password = str(form.get("name", ""))[:200], str(form.get("password", ""))
    address = request.client.host if request.client else "unknown"
    try:
        with app.guard.attempt(name, address):
            account = await run_in_threadpool(_account, app, name)
            if not await app.guard.check(password, account and account["password_hash"]):
                app.guard.failed(name, address)
                return app.render(request, "login.html", status=401, next=local(form.get("next")),
                                  error="wrong name or password")
            app.guard.succeeded(name)
            token = await run_in_threadpool(_begin, app, name)
    except TooMany as exc:
        return app.render(request, "login.html", status=429, next=local(form.get("next")), error=str(exc),
                          headers={"Retry-After": str(exc.retry_after)})
    request.session.clear()  # a new session (and CSRF token) for the logged-in user
    request.session.update(sid=token, user=name, role=account["role"], school=account["school"],
                           csrf=secrets.token_urlsafe(32))
    if account["role"] == "school":
        return RedirectResponse("/school", status_code=303)
    return RedirectResponse(local(form.get("next")), status_code=303)


def _account(app, name: str) -> dict | None:
    with app.store.connect() as con:
        stored = users.stored_password(con, name)
        return stored and {"password_hash": stored, "role": users.role_of(con, name),
                           "school": users.school_of(con, name)}


def _begin(app, name: str) -> str:
    with app.store.connect() as con:
        return sessions.start(con, name, utcnow())


@router.post("/logout")
async def logout(request: Request, form: UserForm):
    """Ends the session in the warehouse, so a copy of the cookie is worth nothing."""
    def end():
        with form.web.store.connect() as con:
            sessions.end(con, request.session["sid"], "logout", utcnow())
    form.web.forget(request)
    await run_in_threadpool(end)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
