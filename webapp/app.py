"""The review web app: a thin layer of pages and forms over review/ and the warehouse.

Safety, in the order a request meets it:
* every route but /login needs a logged-in session (signed cookie, SameSite=Strict);
* every form carries the session's CSRF token, checked before anything is read;
* analysts may change things, viewers only read; school contacts see only the intake
  pages (/school: their own school's reports, and the form), never the review pages;
* the intake form is size-limited (request body, URLs, text) and rate-limited per account,
  and its URLs are fetched only from the configured platform hosts (review.schools);
* templates autoescape (post text is written by abusers), and a Content-Security-Policy
  allows only this app's own inline CSS and JS, by hash.

The warehouse is shared with the loader, which holds the DuckDB file while it loads: each
request opens a short connection (one at a time in this process), and opening waits for
the loader (warehouse.db.connect retries on the lock). A decision is written before the
page answers, so what the reviewer sees as done is in the warehouse.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import secrets
import tempfile
import threading
import zipfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.middleware.sessions import SessionMiddleware

from review import cases as cs
from review import metrics
from review import rechecks as rc
from review import states as st
from review import schools
from review import users
from review.escalation import write_pack
from warehouse.db import WarehouseError, session
from warehouse.queries import parse_since
from warehouse.resurfacing import decide, resurfacing_view

_ASSETS = Path(__file__).with_name("assets")
CSS = (_ASSETS / "app.css").read_text(encoding="utf-8")
JS = (_ASSETS / "app.js").read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


CSP = (f"default-src 'none'; style-src {_csp_hash(CSS)}; script-src {_csp_hash(JS)}; "
       "img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


# How long a request waits for a running load before the reviewer is told to try again.
# A load holds the file for all of its staging files, so this is generous: a reviewer
# would rather wait than redo a decision.
LOCK_WAIT_SECONDS = 600.0


class Store:
    """Short warehouse connections, one at a time in this process."""

    def __init__(self, db_path, lock_wait: float = LOCK_WAIT_SECONDS):
        self.db_path = db_path
        self.lock_wait = lock_wait
        self._lock = threading.Lock()

    @contextmanager
    def connect(self):
        with self._lock, session(self.db_path, lock_wait=self.lock_wait) as con:
            yield con


MAX_FORM_BYTES = 64 * 1024  # the intake form: 10 URLs of 2 KB and 1000 characters fit easily


def create_app(db_path, secret_key: str | None = None,
               lock_wait: float = LOCK_WAIT_SECONDS, settings=None) -> FastAPI:
    """`settings` (tagwatch.config.Settings) give re-checks their user agent, retries and
    platform credentials, as collection has them; read from the environment if not given."""
    from tagwatch.config import Settings

    settings = settings or Settings.from_env(db_path=db_path)
    store = Store(db_path, lock_wait)
    templates = Environment(loader=PackageLoader("webapp", "templates"),
                            autoescape=select_autoescape(default=True, default_for_string=True))
    templates.globals.update(css=CSS, js=JS, states=st.STATES, categories=cs.CATEGORIES,
                             roles=cs.TARGET_ROLES, severities=cs.SEVERITIES, channels=cs.CHANNELS,
                             outcomes=tuple(cs.OUTCOMES), plain_moves=cs.PLAIN_MOVES,
                             not_rechecked=st.OPEN_FOR_REVIEW + (st.DISMISSED, st.CLOSED),
                             affected_roles=schools.AFFECTED_ROLES, max_urls=schools.MAX_URLS,
                             max_description=schools.MAX_DESCRIPTION)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    # A key made at start-up signs sessions unless one is given: a restart logs everyone out.
    app.add_middleware(SessionMiddleware, secret_key=secret_key or secrets.token_hex(32),
                       session_cookie="tagwatch_session", max_age=8 * 3600, same_site="strict")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response

    def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        sess = request.session
        flash = sess.pop("flash", None)
        html = templates.get_template(name).render(
            user=sess.get("user"), role=sess.get("role"), school=sess.get("school"), csrf=_csrf(request),
            flash=flash, **context)
        return HTMLResponse(html, status_code=status)

    def busy(request: Request, exc: WarehouseError) -> HTMLResponse:
        return render(request, "busy.html", status=503, reason=str(exc))

    def login_needed(request: Request, school: bool = False) -> Response | None:
        """None when the session may see the page: staff pages for analysts and viewers,
        school pages (school=True) for school contacts only."""
        if not request.session.get("user"):
            if request.method == "GET":
                return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
            return Response("log in first", status_code=401)
        is_school = request.session.get("role") == "school"
        if is_school != school:
            if request.method == "GET":
                return RedirectResponse("/school" if is_school else "/", status_code=303)
            return Response("not for this account", status_code=403)
        return None

    async def checked_form(request: Request, write: bool = True,
                           school: bool = False) -> tuple[dict | None, Response | None]:
        """The posted form once the session, its size, its CSRF token and the role allow it."""
        refused = login_needed(request, school=school) if school is not None else (
            None if request.session.get("user") else Response("log in first", status_code=401))
        if refused:
            return None, refused
        try:
            size = int(request.headers.get("content-length", "0"))
        except ValueError:
            size = MAX_FORM_BYTES + 1
        if size > MAX_FORM_BYTES:
            return None, Response("the form is too large", status_code=413)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return None, Response("the form is too large", status_code=413)
        form = dict(await request.form())
        if not hmac.compare_digest(str(form.get("csrf", "")), _csrf(request)):
            return None, Response("the form has expired or did not come from this app: reload the page",
                                  status_code=403)
        if write and request.session.get("role") != "analyst":
            return None, Response("viewers can read but not change cases", status_code=403)
        return form, None

    # --- login -------------------------------------------------------------------------

    @app.get("/login")
    def login_page(request: Request, next: str = "/"):
        return render(request, "login.html", next=_local(next))

    @app.post("/login")
    async def login(request: Request):
        form = dict(await request.form())
        if not hmac.compare_digest(str(form.get("csrf", "")), _csrf(request)):
            return Response("the form has expired: reload the login page", status_code=403)
        def check():
            with store.connect() as con:
                return users.authenticate(con, str(form.get("name", "")), str(form.get("password", "")))
        try:
            role = await run_in_threadpool(check)
        except WarehouseError as exc:
            return busy(request, exc)
        if role is None:
            return render(request, "login.html", status=401, next=_local(form.get("next")),
                          error="wrong name or password")
        request.session.clear()  # a new session (and CSRF token) for the logged-in user
        school = None
        if role == "school":
            def school_of():
                with store.connect() as con:
                    return users.school_of(con, str(form["name"]))
            school = await run_in_threadpool(school_of)
        request.session.update(user=form["name"], role=role, school=school, csrf=secrets.token_urlsafe(32))
        if role == "school":
            return RedirectResponse("/school", status_code=303)
        return RedirectResponse(_local(form.get("next")), status_code=303)

    @app.post("/logout")
    async def logout(request: Request):
        form, refused = await checked_form(request, write=False, school=None)
        if refused:
            return refused
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # --- reading -----------------------------------------------------------------------

    @app.get("/")
    def queue(request: Request):
        if refused := login_needed(request):
            return refused
        try:
            with store.connect() as con:
                rows = cs.list_cases(con, st.OPEN_FOR_REVIEW, limit=500)
        except WarehouseError as exc:
            return busy(request, exc)
        return render(request, "queue.html", rows=rows)

    @app.get("/cases")
    def case_list(request: Request, state: str | None = None):
        if refused := login_needed(request):
            return refused
        try:
            with store.connect() as con:
                rows = cs.list_cases(con, (state,) if state in st.STATES else None, limit=1000)
        except WarehouseError as exc:
            return busy(request, exc)
        return render(request, "cases.html", rows=rows, state=state)

    @app.get("/cases/{case_id}")
    def case_page(request: Request, case_id: str):
        if refused := login_needed(request):
            return refused
        try:
            with store.connect() as con:
                info = cs.show(con, case_id)
        except cs.CaseError as exc:
            return render(request, "error.html", status=404, message=str(exc))
        except WarehouseError as exc:
            return busy(request, exc)
        return render(request, "case.html", c=info)

    @app.get("/intake")
    def intake_list(request: Request):
        """Submissions recorded without a post (unsupported, unconfigured or unreachable URLs)."""
        if refused := login_needed(request):
            return refused
        try:
            with store.connect() as con:
                rows = schools.unfetched(con)
        except WarehouseError as exc:
            return busy(request, exc)
        return render(request, "intake.html", rows=rows)

    # --- schools -----------------------------------------------------------------------

    @app.get("/school")
    def school_page(request: Request):
        if refused := login_needed(request, school=True):
            return refused
        try:
            with store.connect() as con:
                rows = schools.my_reports(con, request.session["school"])
        except WarehouseError as exc:
            return busy(request, exc)
        submitted = request.session.pop("submitted", None)
        return render(request, "school.html", rows=rows, submitted=submitted)

    @app.post("/school/submit")
    async def school_submit(request: Request):
        form, refused = await checked_form(request, write=False, school=True)
        if refused:
            return refused
        urls = schools.split_urls(str(form.get("urls", "")))

        def submit():
            return schools.submit(settings, request.session["user"], urls, str(form.get("description", "")),
                                  str(form.get("affected_role", "")))
        try:
            done = await run_in_threadpool(submit)
        except schools.IntakeError as exc:  # refused: nothing was recorded
            request.session["flash"] = {"error": str(exc)}
            return RedirectResponse("/school", status_code=303)
        except WarehouseError as exc:
            return busy(request, exc)
        request.session["submitted"] = [r["reference"] for r in done]  # the cookie stays small
        request.session["flash"] = {"ok": "received: your reference number"
                                    + ("s are " if len(done) > 1 else " is ")
                                    + ", ".join(r["reference"] for r in done)}
        return RedirectResponse("/school", status_code=303)

    @app.get("/dashboard")
    def dashboard(request: Request):
        if refused := login_needed(request):
            return refused
        try:
            with store.connect() as con:
                numbers = metrics.dashboard(con, datetime.now(timezone.utc))
        except WarehouseError as exc:
            return busy(request, exc)
        return render(request, "dashboard.html", m=numbers)

    @app.get("/resurfacing")
    def resurfacing(request: Request, since: str = "7d"):
        """The radar's morning view (read-only: the DAG refreshes matches and proposals)."""
        if refused := login_needed(request):
            return refused
        since = since if since in RESURFACING_PERIODS else "7d"
        try:
            with store.connect() as con:
                view = resurfacing_view(con, parse_since(since))
        except WarehouseError as exc:
            return busy(request, exc)
        return render(request, "resurfacing.html", view=view, since=since)

    # --- changing ----------------------------------------------------------------------

    async def act(request: Request, case_id: str, do, done: str, back: str | None = None):
        form, refused = await checked_form(request)
        if refused:
            return refused
        user = request.session["user"]

        def write():
            with store.connect() as con:
                do(con, form, user)
        try:
            await run_in_threadpool(write)  # waiting for the loader must not stall other pages
        except (cs.CaseError, ValueError) as exc:  # refused moves, bad input: nothing was written
            request.session["flash"] = {"error": str(exc)}
            return RedirectResponse(f"/cases/{quote(case_id)}", status_code=303)
        except WarehouseError as exc:
            return busy(request, exc)
        request.session["flash"] = {"ok": done}
        return RedirectResponse(back or f"/cases/{quote(case_id)}", status_code=303)

    @app.post("/cases/{case_id}/review")
    async def review(request: Request, case_id: str):
        def do(con, f, user):
            cs.review(con, case_id, f.get("decision", ""), user, f.get("category") or None,
                      f.get("target_role") or None, f.get("severity") or None, f.get("note") or None)
        form_next = "/" if request.query_params.get("from") == "queue" else None
        return await act(request, case_id, do, f"case {case_id} reviewed", form_next)

    @app.post("/cases/{case_id}/report")
    async def report(request: Request, case_id: str):
        def do(con, f, user):
            cs.report(con, case_id, f.get("channel", ""), f.get("reference", ""), user)
        return await act(request, case_id, do, f"case {case_id}: report recorded")

    @app.post("/cases/{case_id}/answer")
    async def answer(request: Request, case_id: str):
        def do(con, f, user):
            cs.answer(con, case_id, f.get("outcome", ""), f.get("text", ""), user)
        return await act(request, case_id, do, f"case {case_id}: platform answer recorded")

    @app.post("/cases/{case_id}/move")
    async def move(request: Request, case_id: str):
        def do(con, f, user):
            cs.move(con, case_id, f.get("to", ""), user, f.get("note") or None)
        return await act(request, case_id, do, f"case {case_id} moved")

    @app.get("/cases/{case_id}/escalation-pack")
    def escalation_pack(request: Request, case_id: str):
        """The pack for POSH / Report Harmful Content: the PDF and the JSON in one zip."""
        if refused := login_needed(request):
            return refused
        try:
            with store.connect() as con, tempfile.TemporaryDirectory() as tmp:
                paths = write_pack(con, case_id, tmp)
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
                    for path in paths:
                        zf.write(path, path.name)
        except cs.CaseError as exc:
            return render(request, "error.html", status=404, message=str(exc))
        except WarehouseError as exc:
            return busy(request, exc)
        name = f"case-{cs._case_id(case_id)}-escalation.zip"
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/cases/{case_id}/recheck")
    async def recheck_now(request: Request, case_id: str):
        """Re-check one case at once. The platform is asked with no warehouse connection
        open (the loader may need the file meanwhile): read the target, close, ask, write."""
        form, refused = await checked_form(request)
        if refused:
            return refused

        def work():
            from tagwatch.config import Settings
            from tagwatch.pipeline import collect_options

            with store.connect() as con:
                [target] = rc.targets(con, [cs._case_id(case_id)])
            conf = settings or Settings.from_env(db_path=db_path)
            with conf.http_client() as client:
                seen = rc.observe(client, target, collect_options(conf))
            with store.connect() as con:
                return rc.record(con, target["case_id"], seen, cs.utcnow())
        try:
            result = await run_in_threadpool(work)
        except cs.CaseError as exc:
            request.session["flash"] = {"error": str(exc)}
            return RedirectResponse(f"/cases/{quote(case_id)}", status_code=303)
        except WarehouseError as exc:
            return busy(request, exc)
        request.session["flash"] = {"ok": f"re-checked: {result['outcome']} (HTTP {result['http_status'] or '-'})"
                                          + (f", now {result['moved_to']}" if result["moved_to"] else "")}
        return RedirectResponse(f"/cases/{quote(case_id)}", status_code=303)

    @app.post("/resurfacing/proposals")
    async def decide_proposal(request: Request):
        form, refused = await checked_form(request)
        if refused:
            return refused
        decision, status = form.get("decision"), form.get("status") or "watch"
        if decision not in ("accept", "reject") or status not in ("watch", "flagged"):
            return Response("decision must be accept or reject; status watch or flagged", status_code=400)

        def write():
            with store.connect() as con:  # a WarehouseError here: the loader held on too long
                try:
                    return decide(con, str(form.get("tag", "")), decision == "accept",
                                  request.session["user"], status)
                except WarehouseError as exc:  # not proposed: nothing was written
                    return exc
        try:
            done = await run_in_threadpool(write)
        except WarehouseError as exc:
            return busy(request, exc)
        if isinstance(done, WarehouseError):
            request.session["flash"] = {"error": str(done)}
            return RedirectResponse("/resurfacing", status_code=303)
        request.session["flash"] = {"ok": f"#{done['spelling']} {done['decision']}"}
        return RedirectResponse("/resurfacing", status_code=303)

    return app


RESURFACING_PERIODS = ("1d", "7d", "30d", "all")


def _csrf(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


def _local(target) -> str:
    """Only same-site paths after login (no open redirect)."""
    target = str(target or "/")
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"
