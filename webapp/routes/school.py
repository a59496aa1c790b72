"""A school contact's pages: their own school's reports, and the intake form."""
from __future__ import annotations

from functools import partial

from fastapi import APIRouter, Request

from review import schools, users
from tagwatch.pipeline import collect_options, score_if_trained
from webapp.web import SchoolForm, SchoolPage, flash_to

router = APIRouter()


@router.get("/school")
def school_page(page: SchoolPage):
    with page.connect() as con:
        # by the contact's school id, looked up now (not a name kept in the cookie)
        rows = schools.my_reports(con, users.school_id_of(con, page.user))
    submitted = page.request.session.pop("submitted", None)
    return page.render("school.html", rows=rows, submitted=submitted)


@router.post("/school/submit")
async def school_submit(request: Request, form: SchoolForm):
    """Record the URLs and fetch their posts; a platform that asks us to wait (429
    Retry-After) leaves the fetching in the background, and the page says so."""
    urls = schools.split_urls(str(form.get("urls", "")))

    def submit():
        form.confirm()  # schools.submit opens the warehouse itself
        settings = form.web.settings
        return schools.submit(settings, form.user, urls, str(form.get("description", "")),
                              str(form.get("affected_role", "")), score=partial(score_if_trained, settings),
                              options=collect_options(settings))
    try:
        finished, done = await form.web.background.run(submit, "intake")
    except schools.IntakeError as exc:  # refused: nothing was recorded
        return flash_to(request, "/school", error=str(exc))
    if not finished:
        return flash_to(request, "/school", ok="received: the platform is slow to answer, so the posts are "
                        "fetched in the background; your reference numbers appear below in a few minutes")
    references = [r["reference"] for r in done]
    request.session["submitted"] = references  # the cookie stays small
    message = ("received: your reference number" + ("s are " if len(done) > 1 else " is ")
               + ", ".join(references))
    not_urls = set(schools.not_web_addresses(urls))
    odd = [r for r in done if r["url"] in not_urls]
    if odd:  # named, a few at most: the message travels in the session cookie
        message += ("; these lines are not web addresses (recorded for an analyst, nothing "
                    "fetched): " + "; ".join(f"{r['reference']} \"{r['url'][:60]}\"" for r in odd[:5])
                    + (f" and {len(odd) - 5} more" if len(odd) > 5 else ""))
    return flash_to(request, "/school", ok=message)
