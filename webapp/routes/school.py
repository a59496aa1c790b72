"""A school contact's pages: their own school's reports, and the intake form."""
from __future__ import annotations

from fastapi import APIRouter, Request

from review import schools
from webapp.web import SchoolForm, SchoolPage, flash_to

router = APIRouter()


@router.get("/school")
def school_page(page: SchoolPage):
    with page.connect() as con:
        rows = schools.my_reports(con, page.request.session["school"])
    submitted = page.request.session.pop("submitted", None)
    return page.render("school.html", rows=rows, submitted=submitted)


@router.post("/school/submit")
async def school_submit(request: Request, form: SchoolForm):
    """Record the URLs and fetch their posts; a platform that asks us to wait (429
    Retry-After) leaves the fetching in the background, and the page says so."""
    urls = schools.split_urls(str(form.get("urls", "")))

    def submit():
        form.confirm()  # schools.submit opens the warehouse itself
        return schools.submit(form.web.settings, form.user, urls, str(form.get("description", "")),
                              str(form.get("affected_role", "")))
    try:
        finished, done = await form.web.background.run(submit, "intake")
    except schools.IntakeError as exc:  # refused: nothing was recorded
        return flash_to(request, "/school", error=str(exc))
    if not finished:
        return flash_to(request, "/school", ok="received: the platform is slow to answer, so the posts are "
                        "fetched in the background; your reference numbers appear below in a few minutes")
    references = [r["reference"] for r in done]
    request.session["submitted"] = references  # the cookie stays small
    return flash_to(request, "/school", ok="received: your reference number"
                    + ("s are " if len(done) > 1 else " is ") + ", ".join(references))
