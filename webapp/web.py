"""What every page shares: the warehouse store, the templates, and the checks a request
passes before a route runs (login, role, form size, CSRF), as FastAPI dependencies.

A check that refuses raises `Refused` with the answer to send; a warehouse held too long by
the loader raises WarehouseError; create_app turns both into responses in one place.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from review import cases as cs
from review import schools
from review import journal
from review import states as st
from warehouse.db import WarehouseLocked, session

_ASSETS = Path(__file__).with_name("assets")
CSS = (_ASSETS / "app.css").read_text(encoding="utf-8")
JS = (_ASSETS / "app.js").read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


CSP = (f"default-src 'none'; style-src {csp_hash(CSS)}; script-src {csp_hash(JS)}; "
       "img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

# How long a request waits for a running load before the reviewer is told to try again.
# A load holds the file for all of its staging files, so this is generous: a reviewer
# would rather wait than redo a decision.
LOCK_WAIT_SECONDS = 600.0
MAX_FORM_BYTES = 64 * 1024  # the intake form: 10 URLs of 2 KB and 1000 characters fit easily


# How long a decision waits for the warehouse before it goes to the journal instead.
DECISION_WAIT_SECONDS = 1.0


class Store:
    """Short warehouse connections, one at a time in this process. Every connection first
    applies the decisions journalled while a load held the file (review.journal)."""

    def __init__(self, db_path, lock_wait: float = LOCK_WAIT_SECONDS,
                 decision_wait: float = DECISION_WAIT_SECONDS):
        self.db_path = db_path
        self.lock_wait = lock_wait
        self.decision_wait = decision_wait
        self._lock = threading.Lock()

    @contextmanager
    def connect(self):
        with self._lock, session(self.db_path, lock_wait=self.lock_wait) as con:
            journal.apply_pending(con, self.db_path)
            yield con

    def decide(self, action: str, case_id, fields: dict, user: str) -> bool:
        """Apply a reviewer's decision now (True), or, when the warehouse stays busy for
        `decision_wait` seconds, keep it in the journal for the next writer (False)."""
        deadline = time.monotonic() + self.decision_wait  # one budget for both waits
        if self._lock.acquire(timeout=self.decision_wait):
            try:
                with session(self.db_path, lock_wait=max(0.0, deadline - time.monotonic())) as con:
                    journal.apply_pending(con, self.db_path)
                    journal.ACTIONS[action](con, case_id, fields, user, None)
                return True
            except WarehouseLocked:
                pass
            finally:
                self._lock.release()
        journal.append(self.db_path, action, case_id, fields, user)
        return False


class Refused(Exception):
    """A check said no; `response` says why (401, 403, 413 or a redirect)."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def templates() -> Environment:
    env = Environment(loader=PackageLoader("webapp", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals.update(css=CSS, js=JS, states=st.STATES, categories=cs.CATEGORIES,
                       roles=cs.TARGET_ROLES, severities=cs.SEVERITIES, channels=cs.CHANNELS,
                       outcomes=tuple(cs.OUTCOMES), plain_moves=cs.PLAIN_MOVES,
                       not_rechecked=st.OPEN_FOR_REVIEW + (st.DISMISSED, st.CLOSED),
                       affected_roles=schools.AFFECTED_ROLES, max_urls=schools.MAX_URLS,
                       max_description=schools.MAX_DESCRIPTION)
    return env


@dataclass
class Web:
    """The app's shared parts, kept on app.state.web for the routers."""

    store: Store
    templates: Environment
    settings: object  # tagwatch.config.Settings: re-checks and intake fetch with it

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        sess = request.session
        flash = sess.pop("flash", None)
        html = self.templates.get_template(name).render(
            user=sess.get("user"), role=sess.get("role"), school=sess.get("school"), csrf=csrf(request),
            flash=flash, **context)
        return HTMLResponse(html, status_code=status)


def csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def local(target) -> str:
    """Only same-site paths after login (no open redirect)."""
    target = str(target or "/")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def flash_to(request: Request, where: str, **message) -> RedirectResponse:
    """Redirect after a form, with a one-time message (ok=... or error=...)."""
    request.session["flash"] = message
    return RedirectResponse(where, status_code=303)


def case_url(case_id: str) -> str:
    return f"/cases/{quote(case_id)}"


# --- the checks, as dependencies ---------------------------------------------------------

def web(request: Request) -> Web:
    return request.app.state.web


def require_login(request: Request, school: bool | None = False) -> None:
    """Pass when the session may see the page: staff pages for analysts and viewers,
    school pages (school=True) for school contacts only, either (None) for logout."""
    if not request.session.get("user"):
        if request.method == "GET":
            raise Refused(RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303))
        raise Refused(Response("log in first", status_code=401))
    is_school = request.session.get("role") == "school"
    if school is not None and is_school != school:
        if request.method == "GET":
            raise Refused(RedirectResponse("/school" if is_school else "/", status_code=303))
        raise Refused(Response("not for this account", status_code=403))


async def read_form(request: Request) -> dict:
    """The posted form once its size and its CSRF token are right."""
    try:
        size = int(request.headers.get("content-length", "0"))
    except ValueError:
        size = MAX_FORM_BYTES + 1
    if size > MAX_FORM_BYTES:
        raise Refused(Response("the form is too large", status_code=413))
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Refused(Response("the form is too large", status_code=413))
    form = dict(await request.form())
    if not hmac.compare_digest(str(form.get("csrf", "")), csrf(request)):
        raise Refused(Response("the form has expired or did not come from this app: reload the page",
                               status_code=403))
    return form


def staff_page(request: Request) -> Web:
    require_login(request)
    return web(request)


def school_page(request: Request) -> Web:
    require_login(request, school=True)
    return web(request)


@dataclass
class Posted:
    """A form that passed the checks, with who sent it."""

    web: Web
    fields: dict
    user: str

    def get(self, name: str, default=None):
        return self.fields.get(name, default)


async def analyst_form(request: Request) -> Posted:
    require_login(request)
    fields = await read_form(request)
    if request.session.get("role") != "analyst":
        raise Refused(Response("viewers can read but not change cases", status_code=403))
    return Posted(web(request), fields, request.session["user"])


async def school_form(request: Request) -> Posted:
    require_login(request, school=True)
    return Posted(web(request), await read_form(request), request.session["user"])


async def user_form(request: Request) -> Posted:
    require_login(request, school=None)
    return Posted(web(request), await read_form(request), request.session["user"])


StaffPage = Annotated[Web, Depends(staff_page)]
SchoolPage = Annotated[Web, Depends(school_page)]
AnalystForm = Annotated[Posted, Depends(analyst_form)]
SchoolForm = Annotated[Posted, Depends(school_form)]
UserForm = Annotated[Posted, Depends(user_form)]
