"""The queue, the case list and page, and the forms that move a case."""
from __future__ import annotations

import io
import tempfile
import zipfile

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from review import cases as cs
from review import rechecks as rc
from review import schools
from review import states as st
from review.escalation import write_pack
from webapp.web import AnalystForm, Posted, StaffPage, case_url, flash_to

router = APIRouter()


@router.get("/")
def queue(request: Request, web: StaffPage):
    with web.store.connect() as con:
        rows = cs.list_cases(con, st.OPEN_FOR_REVIEW, limit=500)
    return web.render(request, "queue.html", rows=rows)


@router.get("/cases")
def case_list(request: Request, web: StaffPage, state: str | None = None):
    with web.store.connect() as con:
        rows = cs.list_cases(con, (state,) if state in st.STATES else None, limit=1000)
    return web.render(request, "cases.html", rows=rows, state=state)


@router.get("/cases/{case_id}")
def case_page(request: Request, web: StaffPage, case_id: str):
    try:
        with web.store.connect() as con:
            info = cs.show(con, case_id)
    except cs.CaseError as exc:
        return web.render(request, "error.html", status=404, message=str(exc))
    return web.render(request, "case.html", c=info)


@router.get("/intake")
def intake_list(request: Request, web: StaffPage):
    """Submissions recorded without a post (unsupported, unconfigured or unreachable URLs)."""
    with web.store.connect() as con:
        rows = schools.unfetched(con)
    return web.render(request, "intake.html", rows=rows)


@router.get("/cases/{case_id}/escalation-pack")
def escalation_pack(request: Request, web: StaffPage, case_id: str):
    """The pack for POSH / Report Harmful Content: the PDF and the JSON in one zip."""
    try:
        with web.store.connect() as con, tempfile.TemporaryDirectory() as tmp:
            paths = write_pack(con, case_id, tmp)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
                for path in paths:
                    zf.write(path, path.name)
    except cs.CaseError as exc:
        return web.render(request, "error.html", status=404, message=str(exc))
    name = f"case-{cs.parse_case_id(case_id)}-escalation.zip"
    return Response(buffer.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def act(request: Request, form: Posted, case_id: str, action: str, done: str,
              back: str | None = None):
    """Write one change to a case; a refused move or bad input writes nothing and says why.
    While a load holds the warehouse the change is journalled and applied right after it."""
    try:
        now = await run_in_threadpool(form.web.store.decide, action, case_id, form.fields, form.user)
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


@router.post("/cases/{case_id}/recheck")
async def recheck_now(request: Request, form: AnalystForm, case_id: str):
    """Re-check one case at once. The platform is asked with no warehouse connection
    open (the loader may need the file meanwhile): read the target, close, ask, write."""
    store, settings = form.web.store, form.web.settings

    def work():
        from tagwatch.pipeline import collect_options

        with store.connect() as con:
            [target] = rc.targets(con, [cs.parse_case_id(case_id)])
        # A page waits for this: a platform asking to wait longer than a few seconds gets
        # an "error" re-check now, and the hourly re-check (in the background) asks again.
        with settings.http_client(interactive=True, max_retry_after=WEB_MAX_WAIT,
                                  max_total_wait=WEB_MAX_WAIT) as client:
            seen = rc.observe(client, target, collect_options(settings))
        with store.connect() as con:
            return rc.record(con, target["case_id"], seen, cs.utcnow())
    try:
        result = await run_in_threadpool(work)
    except cs.CaseError as exc:
        return flash_to(request, case_url(case_id), error=str(exc))
    return flash_to(request, case_url(case_id),
                    ok=f"re-checked: {result['outcome']} (HTTP {result['http_status'] or '-'})"
                       + (f", now {result['moved_to']}" if result["moved_to"] else "")
                       + ("; the platform gave no usable answer in time: the hourly re-check will ask again"
                          if result["outcome"] == "error" else ""))
