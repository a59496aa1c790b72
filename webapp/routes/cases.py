"""The queue, the case list and page, and the forms that move a case."""
from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import timedelta
from numbers import Number

from fastapi import APIRouter, Request
from fastapi.responses import Response
from jinja2.filters import do_urlencode
from starlette.concurrency import run_in_threadpool

from review import assignments
from review import cases as cs
from review import decisions
from review import rechecks as rc
from review import schools
from review import states as st
from review.escalation import write_pack
from warehouse.db import WarehouseLocked
from webapp.web import (AnalystForm, Busy, Page, Refused, StaffPage, age, case_url, flash_to, local, log,
                        web_url)

router = APIRouter()


QUEUE_LIMIT = 500
# The plain queue's first page: rendering is what a page costs once the rows are cached
# (about 0.4 s for 500 rows on a busy two-core machine, under 0.1 s for 100), and a reviewer
# works from the top. A narrowed view (one author, one tag, mine) still lists up to QUEUE_LIMIT.
QUEUE_PAGE = 100


@router.get("/")
def queue(page: StaffPage, assigned: str | None = None, author: str | None = None, tag: str | None = None,
          origin: str | None = None, incident: str | None = None):
    """The open cases, worst first; `assigned=me`, `author=PSEUDONYM`, `tag=TAG`, `origin=` (one of
    cs.ORIGIN_FILTERS) or `incident=N` narrow it (all open cases of one author, tag or incident:
    the bulk form then takes them at once)."""
    origin = origin if origin in cs.ORIGIN_FILTERS else None
    narrowed = {"assigned_to": page.user if assigned == "me" else None,
                "author": (author or "")[:200] or None, "tag": (tag or "").lstrip("#")[:100] or None,
                "origins": (origin,) if origin else None,
                "incident": int(incident) if (incident or "").isdigit() and len(incident) < 12 else None}
    limit = QUEUE_LIMIT if any(narrowed.values()) else QUEUE_PAGE
    with page.connect() as con:
        rows = cs.list_cases(con, st.OPEN_FOR_REVIEW, limit=limit, **narrowed)
        undo = decisions.undoable(con, page.user, cs.utcnow(), undo_window(page))
    for r in rows:
        r["suggested"] = decisions.suggestion(r)
        r["view"] = queue_view(r)
    return page.render("queue.html", rows=rows, undo=undo, narrowed=narrowed, limit=limit,
                       origin=origin, origin_filters=cs.ORIGIN_FILTERS,
                       here=page.request.url.path + ("?" + page.request.url.query if page.request.url.query else ""))


def queue_view(r: dict) -> dict:
    """What the queue page shows of a row, worked out once here rather than by filters and
    included templates for each of 100 rows (the page's cost once its rows are cached). Plain
    strings: the template escapes every one of them."""
    explanation = [e for e in (r.get("explanation") or [])[:6]]
    categories = r.get("categories") or {}
    if isinstance(categories, dict):
        top = sorted(categories.items(), reverse=True,
                     key=lambda kv: kv[1].lower() if isinstance(kv[1], str) else kv[1])[:3]
        shown = ", ".join(f"{k} {_two(v) if isinstance(v, Number) else v}" for k, v in top)
    else:
        shown = ""
    created = r.get("created_at")
    return {
        "plural": "s" if r.get("requesters") != 1 else "",
        "score": None if r.get("score") is None else _two(r["score"]),
        "staff_target": _two(r["staff_target"]) if isinstance(r.get("staff_target"), Number) else None,
        "why": ", ".join(_term(e) for e in explanation),
        "categories": shown,
        "tags": [(t, do_urlencode(t)) for t in r.get("hashtags") or []],
        "author": do_urlencode(r["author_key"]) if r.get("author_key") else None,
        "posted": created.strftime("%Y-%m-%d %H:%M") if created else None,
        "posted_iso": created.isoformat() if created else None,
        "age": age(created) if created else None,
        "link": web_url(r.get("url")),
    }


def _two(value) -> str:
    return "%.2f" % value


def _term(entry) -> str:
    """One word of a score's explanation, as '<term> (+0.12)'."""
    if not isinstance(entry, dict):
        return ""
    weight = entry.get("weight")
    return f"{entry.get('term', '')}" + (f" ({weight:+.2f})" if isinstance(weight, Number) else "")


def undo_window(page: Page) -> timedelta:
    return timedelta(minutes=max(0.0, page.web.settings.undo_minutes))


@router.post("/queue/decide")
async def decide_many(request: Request, form: AnalystForm):
    """Confirm, dismiss or report the selected cases at once (one category, target, severity)."""
    back = local(form.get("back"))
    try:
        ids = decisions.parse_case_ids(form.get("case") or [])
    except cs.CaseError as exc:
        return flash_to(request, back, error=f"select the cases first: {exc}")
    form.fields["cases"] = ",".join(str(i) for i in ids)
    try:
        now = await run_in_threadpool(form.decide, "decide", str(ids[0]))
    except (cs.CaseError, ValueError) as exc:
        return flash_to(request, back, error=str(exc))
    done = {"confirm": "confirmed", "dismiss": "dismissed", "report": "reported"}.get(form.get("decision"), "decided")
    message = f"{len(ids)} case{'s' if len(ids) != 1 else ''} {done}: " + ", ".join(f"#{i}" for i in ids)
    if not now:
        message += " (a load is running: it is recorded and applied as soon as the load ends)"
    return flash_to(request, back, ok=message)


@router.post("/undo")
async def undo(request: Request, form: AnalystForm):
    """Undo the decision the Undo button names (the user's last one, within the window)."""
    back = local(form.get("back"))
    try:
        ids = decisions.parse_case_ids(form.get("cases") or [])
    except cs.CaseError as exc:
        return flash_to(request, back, error=str(exc))
    form.fields["window_minutes"] = str(undo_window(form).total_seconds() / 60)  # never the form's
    try:
        now = await run_in_threadpool(form.decide, "undo", str(ids[0]))
    except (cs.CaseError, ValueError) as exc:
        return flash_to(request, back, error=f"not undone: {exc}")
    return flash_to(request, back, ok="undone: " + ", ".join(f"#{i}" for i in ids)
                    + ("" if now else " (a load is running: applied as soon as it ends)"))


@router.post("/cases/{case_id}/assign")
async def assign(request: Request, form: AnalystForm, case_id: str):
    who = form.get("assignee") or ""
    return await act(request, form, case_id, "assign",
                     f"case {case_id}: " + (f"assigned to {who}" if who else "unassigned"))


@router.get("/cases")
def case_list(page: StaffPage, state: str | None = None):
    with page.connect() as con:
        rows = cs.list_cases(con, (state,) if state in st.STATES else None, limit=1000)
    return page.render("cases.html", rows=rows, state=state)


@router.get("/cases/{case_id}")
def case_page(page: StaffPage, case_id: str):
    try:
        with page.connect() as con:
            info = cs.show(con, case_id)
            info["assignee"] = assignments.assignee_of(con, info["case_id"])
            analysts = assignments.analysts(con)
            undo = decisions.undoable(con, page.user, cs.utcnow(), undo_window(page))
    except cs.CaseError as exc:
        return page.render("error.html", status=404, message=str(exc))
    return page.render("case.html", c=info, recheck=page.web.background.job(recheck_key(case_id)),
                       analysts=analysts, undo=undo, here=case_url(str(info["case_id"])))


@router.get("/intake")
def intake_list(page: StaffPage):
    """Submissions recorded without a post (unsupported, unconfigured or unreachable URLs)."""
    with page.connect() as con:
        rows = schools.unfetched(con)
    return page.render("intake.html", rows=rows)


@router.get("/cases/{case_id}/escalation-pack")
def escalation_pack(page: StaffPage, case_id: str):
    """The pack for POSH / Report Harmful Content: the PDF and the JSON in one zip."""
    try:
        with page.connect() as con, tempfile.TemporaryDirectory() as tmp:
            paths = write_pack(con, case_id, tmp)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in paths:
                    zf.write(path, path.name)
    except cs.CaseError as exc:
        return page.render("error.html", status=404, message=str(exc))
    name = f"case-{cs.parse_case_id(case_id)}-escalation.zip"
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def act(request: Request, form: Page, case_id: str, action: str, done: str,
              back: str | None = None):
    """Write one change to a case; a refused move or bad input writes nothing and says why.
    While a load holds the warehouse the change is journalled and applied right after it."""
    try:
        now = await run_in_threadpool(form.decide, action, case_id)
    except (cs.CaseError, ValueError) as exc:
        return flash_to(request, case_url(case_id), error=str(exc))
    if not now:
        done += " (a load is running: it is recorded and applied as soon as the load ends)"
    return flash_to(request, back or case_url(case_id), ok=done)


@router.post("/cases/{case_id}/review")
async def review(request: Request, form: AnalystForm, case_id: str):
    back = "/" if request.query_params.get("from") == "queue" else None
    return await act(request, form, case_id, "review", f"case {case_id} reviewed", back)


@router.post("/cases/{case_id}/report")
async def report(request: Request, form: AnalystForm, case_id: str):
    return await act(request, form, case_id, "report", f"case {case_id}: report recorded")


@router.post("/cases/{case_id}/answer")
async def answer(request: Request, form: AnalystForm, case_id: str):
    return await act(request, form, case_id, "answer", f"case {case_id}: platform answer recorded")


@router.post("/cases/{case_id}/move")
async def move(request: Request, form: AnalystForm, case_id: str):
    return await act(request, form, case_id, "move", f"case {case_id} moved")


WEB_MAX_WAIT = 5.0  # seconds a re-check started from a page may wait on a platform, at most


def recheck_key(case_id) -> str:
    return f"re-check:{cs.parse_case_id(case_id)}"


def recheck_summary(result: dict) -> tuple[str, str]:
    """A finished re-check in plain words: done (the platform answered) or failed (it did not)."""
    if result["outcome"] == "error":
        return "failed", (f"the platform gave no usable answer: {result['detail'] or 'no detail'}; "
                          "the hourly re-check will ask again")
    return "done", (f"{result['outcome']} (HTTP {result['http_status'] or '-'})"
                    + (f", now {result['moved_to']}" if result["moved_to"] else ""))


def recheck_failure(exc: BaseException) -> str:
    """Why a re-check could not be done, in plain words (the details go to the server log)."""
    if isinstance(exc, cs.CaseError):
        return str(exc)
    if isinstance(exc, WarehouseLocked):
        return "the warehouse stayed busy (a load was running): nothing was recorded; try again in a minute"
    if isinstance(exc, Refused):
        return "the session that asked for it has ended: nothing was recorded"
    log.error("re-check failed", exc_info=exc)
    return "an unexpected error (written to the server's log): nothing was recorded"


@router.post("/cases/{case_id}/recheck")
async def recheck_now(request: Request, form: AnalystForm, case_id: str):
    """Re-check one case now, in the background: the page waits a few seconds for it, then
    the case page shows it running, done or failed (webapp.web.Job). The platform is asked
    with no warehouse connection open (the loader may need the file meanwhile): read the
    target, close, ask, write. A slow platform, or one asking to wait, holds no page."""
    settings = form.web.settings

    def work():
        from tagwatch.pipeline import collect_options

        with form.connect() as con:
            [target] = rc.targets(con, [cs.parse_case_id(case_id)])
        # A platform asking to wait longer than a few seconds gets an "error" re-check now,
        # and the hourly re-check asks again.
        with settings.http_client(interactive=True, max_retry_after=WEB_MAX_WAIT,
                                  max_total_wait=WEB_MAX_WAIT) as client:
            seen = rc.observe(client, target, collect_options(settings))
        with form.web.store.connect() as con:  # the analyst may have left: record it anyway
            return {**rc.record(con, target["case_id"], seen, cs.utcnow()), "detail": seen["detail"]}
    try:
        finished, _ = await form.web.background.run(
            work, "re-check", key=recheck_key(case_id), by=form.user,
            summary=recheck_summary, explain=recheck_failure)
    except Busy as exc:
        return flash_to(request, case_url(case_id), error=f"a re-check of this case is already running "
                        f"(asked by {exc.job.by} {exc.job.seconds} s ago): its result shows here when it ends")
    except (cs.CaseError, WarehouseLocked) as exc:
        return flash_to(request, case_url(case_id), error=recheck_failure(exc))
    job = form.web.background.job(recheck_key(case_id))
    if not finished:
        return flash_to(request, case_url(case_id), ok="the platform is slow to answer: the re-check carries on "
                        "in the background; this page shows when it is done")
    if job.state == "failed":
        return flash_to(request, case_url(case_id), ok=f"re-checked: error; {job.message}")
    return flash_to(request, case_url(case_id), ok=f"re-checked: {job.message}")
