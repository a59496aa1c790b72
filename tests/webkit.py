"""Logging in to the review app over HTTP (TestClient): shared by the webapp and case tests."""
from __future__ import annotations

import re

PASSWORD = "a long passphrase"


def csrf(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def login(client, name):
    client.post("/login", data={"csrf": csrf(client.get("/login")), "name": name, "password": PASSWORD})
    return csrf(client.get("/"))


def state(client, case_id) -> str:
    return re.search(r'id="state">([A-Z_]+)', client.get(f"/cases/{case_id}").text).group(1)
