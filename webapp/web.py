"""What every page shares: the warehouse store, the templates, and the checks a request
passes before a route runs (login, role, CSRF), as FastAPI dependencies.

A check that refuses raises `Refused` with the answer to send; a warehouse held too long by
the loader raises WarehouseError; create_app turns both into responses in one place.

Sessions live in the warehouse (review.sessions) so that logout, a password change and the
removal of a user end them. The signed cookie carries the session's token, the CSRF token
and what the header shows; the session itself is confirmed in the same connection that
serves the page (`Page.connect`), so checking it costs no extra opening of the warehouse.
"""
from __future__ import annotations

import asyncio
import atexit
import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated
from urllib.parse import quote, urlsplit

import duckdb
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from review import cases as cs
from review import dsa
from review import schools
from review import journal
from review import sessions
from review import states as st
from warehouse.db import WarehouseLocked, connect, wanted
from webapp.guard import LoginGuard

log = logging.getLogger("tagwatch.webapp")

_ASSETS = Path(__file__).with_name("assets")
CSS = (_ASSETS / "app.css").read_text(encoding="utf-8")
JS = (_ASSETS / "app.js").read_text(encoding="utf-8")


def csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


CSP = (f"default-src 'none'; style-src {csp_hash(CSS)}; script-src {csp_hash(JS)}; "
       "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

# How long a request waits for the warehouse (a running load, or other requests of this
# app) before the reviewer sees the busy page ("nothing was read or changed, send it
# again"): no page hangs for long. The loader holds the file one staging file at a time
# (a 25,000-post file: under a second), so a decision sent during a load still lands.
LOCK_WAIT_SECONDS = 10.0
# How long a request waits for work that asks a platform (a re-check, the intake's fetch):
# a platform may ask us to wait minutes (429 Retry-After); past this the work carries on in
# the background and the page says so. Ten URLs fetched, staged and loaded fit well inside.
WEB_WAIT_SECONDS = 10.0
BACKGROUND_AT_ONCE = 4
# While a load holds the file a decision is journalled on the strength of the session as this
# process last confirmed it: at most this long ago.
CONFIRMED_FOR = 60.0
MAX_FORM_BYTES = 64 * 1024  # the intake form: 10 URLs of 2 KB and 1000 characters fit easily


# How long a decision waits for the warehouse before it goes to the journal instead.
DECISION_WAIT_SECONDS = 1.0


# How long the app keeps its warehouse connection open after a request, for the next one
# (opening the file, bringing it up to date and warming DuckDB's buffers cost more than many
# pages). Another process that asks for the file (warehouse.db.signal_want) gets it at once.
KEEP_OPEN_SECONDS = 2.0
_REAP_EVERY = 0.1


class Store:
    """The app's warehouse connection, one request at a time in this process. It is kept
    open between requests while nobody else wants the file: it is closed after
    `keep_open` idle seconds, or within _REAP_EVERY of another process asking for the file
    (a load, the CLI), so keeping it never holds up a load. Every use first applies the
    decisions journalled while a load held the file (review.journal)."""

    def __init__(self, db_path, lock_wait: float = LOCK_WAIT_SECONDS,
                 decision_wait: float = DECISION_WAIT_SECONDS, keep_open: float = KEEP_OPEN_SECONDS):
        self.db_path = db_path
        self.lock_wait = lock_wait
        self.decision_wait = decision_wait
        self.keep_open = keep_open
        self._lock = threading.Lock()
        self._con = None
        self._last_used = 0.0
        self._reaper: threading.Thread | None = None
        self._tick = threading.Event()   # never set: the reaper's clock (not time.sleep)

    @contextmanager
    def connect(self):
        if not self._lock.acquire(timeout=self.lock_wait):
            raise WarehouseLocked(f"the app waited {self.lock_wait:.0f} s for its turn on the warehouse")
        try:
            with self._held(self.lock_wait) as con:
                yield con
        finally:
            self._lock.release()

    @contextmanager
    def _held(self, lock_wait: float):
        """The kept connection (opened if need be), journal applied; call with self._lock held."""
        if self._con is not None and wanted(self.db_path):
            self._drop()
        if self._con is None:
            self._con = connect(self.db_path, lock_wait=lock_wait)
        kept = False
        try:
            journal.apply_pending(self._con, self.db_path)
            yield self._con
            kept = True
        except BaseException as exc:   # a refusal, a refused decision (rolled back): still good
            kept = isinstance(exc, Exception) and not isinstance(exc, duckdb.Error)
            raise
        finally:
            self._last_used = time.monotonic()
            if not kept or self.keep_open <= 0 or wanted(self.db_path):
                self._drop()
            else:
                self._start_reaper()

    def _drop(self) -> None:
        con, self._con = self._con, None
        if con is not None:
            try:
                con.close()
            except Exception as exc:  # closing a broken connection: nothing left to save
                log.warning("closing the warehouse connection failed: %s", exc)

    def _start_reaper(self) -> None:
        if self._reaper is None:
            atexit.register(self.close)   # a server stopped without its shutdown still lets go
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="tagwatch-web-store", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        """Close the kept connection once idle for keep_open seconds or wanted elsewhere."""
        while True:
            self._tick.wait(_REAP_EVERY)
            if not self._lock.acquire(blocking=False):
                continue   # a request is using it
            try:
                if self._con is None:
                    return
                if time.monotonic() - self._last_used >= self.keep_open or wanted(self.db_path):
                    self._drop()
                    return
            finally:
                self._lock.release()

    def close(self) -> None:
        """Let go of the file (the app is stopping, or the process exits)."""
        if self._lock.acquire(timeout=self.lock_wait):
            try:
                self._drop()
            finally:
                self._lock.release()

    def decide(self, action: str, case_id, fields: dict, user: str, confirm, trusted) -> bool:
        """Apply a reviewer's decision now (True), or, when the warehouse stays busy for
        `decision_wait` seconds, keep it in the journal for the next writer (False).
        `confirm(con)` checks the session in the decision's own connection; when the
        warehouse is busy, `trusted()` says whether the session was confirmed a moment ago
        (else the busy page: a journalled decision needs a session known to be alive)."""
        deadline = time.monotonic() + self.decision_wait  # one budget for both waits
        if self._lock.acquire(timeout=self.decision_wait):
            try:
                with self._held(max(0.0, deadline - time.monotonic())) as con:
                    confirm(con)
                    journal.ACTIONS[action](con, case_id, fields, user, None)
                return True
            except WarehouseLocked:
                pass
            finally:
                self._lock.release()
        if not trusted():
            raise WarehouseLocked("a load is running and this session could not be confirmed meanwhile")
        journal.append(self.db_path, action, case_id, fields, user)
        return False


@dataclass
class Job:
    """What the pages show of one piece of background work (a re-check of a case): kept by
    this server process, so a reload shows it running, done or failed; a restart forgets it
    (what the work recorded in the warehouse stays)."""

    by: str
    started: datetime
    state: str = "running"  # running | done | failed
    message: str = ""       # plain words: the result, or why it failed
    finished: datetime | None = None

    @property
    def seconds(self) -> int:
        return int(((self.finished or utcnow()) - self.started).total_seconds())


class Busy(Exception):
    """The same work (same key) is already running: `job` says since when and for whom."""

    def __init__(self, job: Job):
        super().__init__(job.by)
        self.job = job


class Background:
    """Work that may outlast a request: started on a thread of its own, awaited a few seconds.
    Work given a `key` is a Job the pages can show (`job(key)`), one at a time per key."""

    KEEP = 1000  # finished jobs remembered at most (the oldest are forgotten first)

    def __init__(self, wait: float = WEB_WAIT_SECONDS, at_once: int = BACKGROUND_AT_ONCE):
        self.wait = wait
        self._slots = threading.BoundedSemaphore(at_once)
        self._jobs: dict[str, Job] = {}
        self._jobs_lock = threading.Lock()

    def job(self, key: str) -> Job | None:
        return self._jobs.get(key)

    def _begin(self, key: str, by: str) -> Job:
        with self._jobs_lock:
            current = self._jobs.get(key)
            if current is not None and current.state == "running":
                raise Busy(current)
            if len(self._jobs) >= self.KEEP:
                for old in sorted((k for k, j in self._jobs.items() if j.state != "running"),
                                  key=lambda k: self._jobs[k].started)[: self.KEEP // 10 or 1]:
                    del self._jobs[old]
            job = self._jobs[key] = Job(by, utcnow())
            return job

    def _end(self, job: Job | None, state: str, message: str) -> None:
        if job is not None:
            with self._jobs_lock:
                job.state, job.message, job.finished = state, message, utcnow()

    async def run(self, work, what: str, key: str | None = None, by: str = "",
                  summary=lambda result: ("done", ""), explain=str) -> tuple[bool, object]:
        """(True, result) if `work` ended within the wait (its exception is raised here);
        (False, None) if it carries on in the background. Refuses (Refused 429) when
        BACKGROUND_AT_ONCE jobs are already running, and (Busy) when the job `key` runs.
        A keyed job ends as summary(result) -> (state, message), or "failed" with explain(exc)."""
        if not self._slots.acquire(blocking=False):
            raise Refused(Response(f"{what}: other work is still running in the background; "
                                   "try again in a few minutes", status_code=429, headers={"Retry-After": "60"}))
        try:
            job = self._begin(key, by) if key is not None else None
        except Busy:
            self._slots.release()
            raise
        future: Future = Future()

        def job_thread():
            try:
                result = work()
                self._end(job, *summary(result))
                future.set_result(result)
            except BaseException as exc:  # handed to the request, or logged if it left already
                self._end(job, "failed", explain(exc))
                future.set_exception(exc)
            finally:
                self._slots.release()
        # A daemon thread: a platform's long Retry-After must not keep the server from stopping.
        threading.Thread(target=job_thread, name=f"tagwatch-web-{what}", daemon=True).start()
        waiting = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({waiting}, timeout=self.wait)
        if done:
            return True, waiting.result()
        waiting.add_done_callback(lambda f: f.cancelled() or not f.exception() or log.warning(
            "background %s failed: %s", what, f.exception()))
        return False, None


class Refused(Exception):
    """A check said no; `response` says why (401, 403, 413 or a redirect)."""

    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def templates() -> Environment:
    # Compiled once: no check of the template files' times on every include of every page.
    env = Environment(loader=PackageLoader("webapp", "templates"), auto_reload=False,
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals.update(css=CSS, js=JS, states=st.STATES, categories=cs.CATEGORIES,
                       roles=cs.TARGET_ROLES, severities=cs.SEVERITIES, channels=cs.CHANNELS,
                       outcomes=tuple(cs.OUTCOMES), plain_moves=cs.PLAIN_MOVES,
                       not_rechecked=st.OPEN_FOR_REVIEW + (st.DISMISSED, st.CLOSED),
                       affected_roles=schools.AFFECTED_ROLES, max_urls=schools.MAX_URLS,
                       max_description=schools.MAX_DESCRIPTION, dsa_choices=dsa.SHORT,
                       dsa_describe=dsa.describe)
    env.tests["web_url"] = web_url
    env.filters["age"] = age
    return env


def web_url(value) -> bool:
    """Only http(s) addresses become links (a post's URL comes from a platform, or a hostile one)."""
    parts = urlsplit(str(value or ""))
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def age(when) -> str:
    """How long ago, in the largest whole unit: '40 min', '5 h', '3 d'."""
    if when is None:
        return ""
    minutes = max(0, int((utcnow() - when).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h" if minutes < 48 * 60 else f"{minutes // 1440} d"


@dataclass
class Web:
    """The app's shared parts, kept on app.state.web for the routers."""

    store: Store
    templates: Environment
    settings: object  # tagwatch.config.Settings: re-checks and intake fetch with it
    idle: timedelta = sessions.IDLE
    absolute: timedelta = sessions.ABSOLUTE
    guard: LoginGuard = field(default_factory=LoginGuard)
    background: Background = field(default_factory=Background)
    # session token -> when this process last confirmed it alive (monotonic seconds)
    confirmed: dict = field(default_factory=dict)

    def confirm(self, con, request: Request) -> None:
        """The request's session is alive and its user still has the role the cookie says;
        else the cookie is emptied and the request refused as if never logged in."""
        sid = request.session.get("sid")
        account = sessions.check(con, sid, utcnow(), self.idle, self.absolute)
        if account is None or account["role"] != request.session.get("role"):
            self.confirmed.pop(sid, None)
            request.session.clear()
            raise Refused(login_first(request))
        request.session["school"] = account["school"]
        if len(self.confirmed) >= 10_000:
            self.confirmed.clear()  # only a shortcut while a load runs: losing it is safe
        self.confirmed[sid] = time.monotonic()

    def recently_confirmed(self, request: Request) -> bool:
        """Confirmed alive by this process within CONFIRMED_FOR seconds (and not logged out)."""
        seen = self.confirmed.get(request.session.get("sid"))
        return seen is not None and time.monotonic() - seen < CONFIRMED_FOR

    def forget(self, request: Request) -> None:
        self.confirmed.pop(request.session.get("sid"), None)

    def render(self, request: Request, name: str, status: int = 200, headers: dict | None = None,
               **context) -> HTMLResponse:
        sess = request.session
        flash = sess.pop("flash", None)
        html = self.templates.get_template(name).render(
            user=sess.get("user"), role=sess.get("role"), school=sess.get("school"), csrf=csrf(request),
            flash=flash, **context)
        return HTMLResponse(html, status_code=status, headers=headers)


def csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def local(target) -> str:
    """Only same-site paths after login (no open redirect)."""
    target = str(target or "/")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def flash_to(request: Request, where: str, **message) -> RedirectResponse:
    """Redirect after a form, with a one-time message (ok=... or error=...)."""
    request.session["flash"] = message
    return RedirectResponse(where, status_code=303)


def case_url(case_id: str) -> str:
    return f"/cases/{quote(case_id)}"


# --- the checks, as dependencies ---------------------------------------------------------

def web(request: Request) -> Web:
    return request.app.state.web


def login_first(request: Request) -> Response:
    if request.method == "GET":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return Response("log in first", status_code=401)


def require_login(request: Request, school: bool | None = False) -> None:
    """Pass when the cookie's session may see the page: staff pages for analysts and viewers,
    school pages (school=True) for school contacts only, either (None) for logout. The
    session itself is confirmed in the warehouse when the page connects (Page.connect)."""
    if not request.session.get("user") or not request.session.get("sid"):
        raise Refused(login_first(request))
    is_school = request.session.get("role") == "school"
    if school is not None and is_school != school:
        if request.method == "GET":
            raise Refused(RedirectResponse("/school" if is_school else "/", status_code=303))
        raise Refused(Response("not for this account", status_code=403))


async def read_form(request: Request) -> dict:
    """The posted form once its CSRF token is right (BodyLimit bounds its size). A field
    sent several times (the queue's `case` checkboxes) keeps all its values, as a list."""
    posted = await request.form()
    form = {key: (posted.getlist(key) if len(posted.getlist(key)) > 1 else value)
            for key, value in posted.items()}
    if not hmac.compare_digest(str(form.get("csrf", "")), csrf(request)):
        raise Refused(Response("the form has expired or did not come from this app: reload the page",
                               status_code=403))
    return form


@dataclass
class Page:
    """A request that passed the checks: its warehouse connections confirm the session first."""

    web: Web
    request: Request
    fields: dict = field(default_factory=dict)  # a posted form (its CSRF token checked)

    @property
    def user(self) -> str:
        return self.request.session["user"]

    def get(self, name: str, default=None):
        return self.fields.get(name, default)

    @contextmanager
    def connect(self):
        with self.web.store.connect() as con:
            self.web.confirm(con, self.request)
            yield con

    def decide(self, action: str, case_id) -> bool:
        """A reviewer's decision (Store.decide), the session confirmed in its connection."""
        return self.web.store.decide(action, case_id, self.fields, self.user,
                                     confirm=lambda con: self.web.confirm(con, self.request),
                                     trusted=lambda: self.web.recently_confirmed(self.request))

    def confirm(self) -> None:
        """For work that opens the warehouse itself (the intake): confirm the session first."""
        with self.connect():
            pass

    def render(self, name: str, status: int = 200, **context) -> HTMLResponse:
        return self.web.render(self.request, name, status, **context)


def staff_page(request: Request) -> Page:
    require_login(request)
    return Page(web(request), request)


def school_page(request: Request) -> Page:
    require_login(request, school=True)
    return Page(web(request), request)


async def analyst_form(request: Request) -> Page:
    require_login(request)
    fields = await read_form(request)
    if request.session.get("role") != "analyst":
        raise Refused(Response("viewers can read but not change cases", status_code=403))
    return Page(web(request), request, fields)


async def school_form(request: Request) -> Page:
    require_login(request, school=True)
    return Page(web(request), request, await read_form(request))


async def user_form(request: Request) -> Page:
    require_login(request, school=None)
    return Page(web(request), request, await read_form(request))


StaffPage = Annotated[Page, Depends(staff_page)]
SchoolPage = Annotated[Page, Depends(school_page)]
AnalystForm = Annotated[Page, Depends(analyst_form)]
SchoolForm = Annotated[Page, Depends(school_form)]
UserForm = Annotated[Page, Depends(user_form)]


# --- request bodies ----------------------------------------------------------------------

class TooLarge(Exception):
    """A request body grew past MAX_FORM_BYTES while it was being read."""


class BodyLimit:
    """Bounds every request body while it streams in: a declared Content-Length over the
    limit is refused before reading, and a chunked body is cut off at the first chunk past
    it (raising TooLarge into the route), so at most the limit is ever held."""

    def __init__(self, app, limit: int = MAX_FORM_BYTES):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.limit:
            return await too_large()(scope, receive, send)
        seen = 0

        async def bounded():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge()
            return message
        await self.app(scope, bounded, send)


def too_large() -> Response:
    # Connection: close, so the server stops reading the rest instead of draining it.
    return Response("the form is too large", status_code=413, headers={"Connection": "close"})
