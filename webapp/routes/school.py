"""A school contact's pages: their own school's reports, and the intake form."""
from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from review import schools
from webapp.web import SchoolForm, SchoolPage, flash_to

router = APIRouter()


@router.get("/school")
def school_page(request: Request, web: SchoolPage):
    with web.store.connect() as con:
        rows = schools.my_reports(con, request.session["school"])
    submitted = request.session.pop("submitted", None)
    return web.render(request, "school.html", rows=rows, submitted=submitted)


@router.post("/school/submit")
async def school_submit(request: Request, form: SchoolForm):
    urls = schools.split_urls(str(form.get("urls", "")))

    def submit():
        return schools.submit(form.web.settings, form.user, urls, str(form.get("description", "")),
                              str(form.get("affected_role", "")))
    try:
        done = await run_in_threadpool(submit)
    except schools.IntakeError as exc:  # refused: nothing was recorded
        return flash_to(request, "/school", error=str(exc))
    references = [r["reference"] for r in done]
    request.session["submitted"] = references  # the cookie stays small
    return flash_to(request, "/school", ok="received: your reference number"
                    + ("s are " if len(done) > 1 else " is ") + ", ".join(references))
