"""The radar's morning view and the analysts' decisions on proposed tags."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from warehouse.db import WarehouseError
from warehouse.queries import parse_since
from radar.network import draw, title
from warehouse.resurfacing import decide, resurfacing_view, tag_network
from webapp.web import AnalystForm, StaffPage, flash_to

router = APIRouter()
PERIODS = ("1d", "7d", "30d", "all")


@router.get("/resurfacing")
def resurfacing(page: StaffPage, since: str = "7d"):
    """Read-only: the DAG refreshes matches and proposals."""
    since = since if since in PERIODS else "7d"
    with page.connect() as con:
        view = resurfacing_view(con, parse_since(since))
        network = tag_network(con, parse_since(since))
    return page.render("resurfacing.html", view=view, since=since, network=network)


@router.get("/resurfacing/network.png")
def network_image(page: StaffPage, since: str = "7d"):
    """The network of tags around the watched ones, drawn here (the page shows it as an
    image of this app: no script, nothing from elsewhere)."""
    since = since if since in PERIODS else "7d"
    with page.connect() as con:
        network = tag_network(con, parse_since(since))
    return Response(draw(network, title(network, since)), media_type="image/png")



@router.post("/resurfacing/proposals")
async def decide_proposal(request: Request, form: AnalystForm):
    decision, status = form.get("decision"), form.get("status") or "watch"
    if decision not in ("accept", "reject") or status not in ("watch", "flagged"):
        return Response("decision must be accept or reject; status watch or flagged", status_code=400)

    def write():
        with form.connect() as con:  # a WarehouseError here: the loader held on too long
            try:
                return decide(con, str(form.get("tag", "")), decision == "accept", form.user, status)
            except WarehouseError as exc:  # not proposed: nothing was written
                return exc
    done = await run_in_threadpool(write)
    if isinstance(done, WarehouseError):
        return flash_to(request, "/resurfacing", error=str(done))
    return flash_to(request, "/resurfacing", ok=f"#{done['spelling']} {done['decision']}")
