"""Logging in and out."""
from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from review import users
from webapp.web import UserForm, csrf, local, web

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
    name = str(form.get("name", ""))

    def check():
        with app.store.connect() as con:
            role = users.authenticate(con, name, str(form.get("password", "")))
            return role, (users.school_of(con, name) if role == "school" else None)
    role, school = await run_in_threadpool(check)
    if role is None:
        return app.render(request, "login.html", status=401, next=local(form.get("next")),
                          error="wrong name or password")
    request.session.clear()  # a new session (and CSRF token) for the logged-in user
    request.session.update(user=name, role=role, school=school, csrf=secrets.token_urlsafe(32))
    if role == "school":
        return RedirectResponse("/school", status_code=303)
    return RedirectResponse(local(form.get("next")), status_code=303)


@router.post("/logout")
async def logout(request: Request, form: UserForm):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
