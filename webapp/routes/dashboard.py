"""The dashboard of numbers."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Request

from review import metrics
from webapp.web import StaffPage

router = APIRouter()


@router.get("/dashboard")
def dashboard(request: Request, web: StaffPage):
    with web.store.connect() as con:
        numbers = metrics.dashboard(con, datetime.now(timezone.utc))
    return web.render(request, "dashboard.html", m=numbers)
