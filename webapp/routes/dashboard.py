"""The dashboard of numbers."""
from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter

from review import metrics
from webapp.web import StaffPage

router = APIRouter()


@router.get("/dashboard")
def dashboard(page: StaffPage):
    with page.connect() as con:
        numbers = metrics.dashboard(con, datetime.now(timezone.utc))
    return page.render("dashboard.html", m=numbers)
