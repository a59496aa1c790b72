"""The login's defences: a growing lock-out after failed passwords (per user name and per
client address), a cap on logins in progress, and password hashing on a worker of its own.

scrypt costs tens of milliseconds of CPU and 32 MiB per check. It runs on one dedicated
thread, never under the warehouse connection and never on the pool that serves pages, and
only a few logins may be in progress at once (the rest get 429 at once): a crowd of
anonymous logins cannot slow a reviewer's page. State is in memory: a restart forgets it.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from review.users import password_matches

log = logging.getLogger("tagwatch.webapp.login")

FREE_PER_NAME = 5          # failed passwords for one name before it is locked for a while
FREE_PER_ADDRESS = 20      # failed logins from one address (a school's NAT shares one)
FIRST_LOCK = 30.0          # seconds; doubles with every further failure
LONGEST_LOCK = 900.0
FORGET_AFTER = 3600.0      # a name or address with no failure for this long starts afresh
AT_ONCE = 4                # logins in progress (warehouse read + hashing) at one time
MAX_TRACKED = 10_000       # names and addresses remembered (attackers make up names)


class TooMany(Exception):
    """Refused before the password was looked at; `retry_after` in whole seconds."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginGuard:
    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.hashing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tagwatch-login-hash")
        self.in_progress = 0  # only touched on the event loop
        self._records: dict[tuple[str, str], _Record] = {}

    def admit(self, name: str, address: str) -> None:
        """Raise TooMany when this name or address is locked out, or too many logins run."""
        now = self.clock()
        for key in (("name", name), ("address", address)):
            record = self._records.get(key)
            if record and record.locked_until > now:
                raise TooMany("too many failed logins: try again later", record.locked_until - now)
        if self.in_progress >= AT_ONCE:
            raise TooMany("too many logins at once: try again in a moment", 2)

    @contextmanager
    def attempt(self, name: str, address: str):
        """One login in progress, once admitted (see `admit`)."""
        self.admit(name, address)
        self.in_progress += 1
        try:
            yield
        finally:
            self.in_progress -= 1

    async def check(self, password: str, stored: str | None) -> bool:
        """The password against the stored hash, on the hashing thread (not the page pool)."""
        future = self.hashing.submit(password_matches, password, stored)
        return await asyncio.wrap_future(future)

    def failed(self, name: str, address: str) -> None:
        now = self.clock()
        for key, free in ((("name", name), FREE_PER_NAME), (("address", address), FREE_PER_ADDRESS)):
            record = self._record(key, now)
            record.failures += 1
            record.last_failure = now
            if record.failures >= free:
                record.locked_until = now + min(FIRST_LOCK * 2 ** (record.failures - free), LONGEST_LOCK)
        log.warning("failed login for name %r from %s (%d failed in a row for this name)",
                    name, address, self._records[("name", name)].failures)

    def succeeded(self, name: str) -> None:
        """The name starts afresh; the address does not (one good account must not reset it)."""
        self._records.pop(("name", name), None)

    def _record(self, key: tuple[str, str], now: float) -> _Record:
        record = self._records.get(key)
        if record is None or now - record.last_failure > FORGET_AFTER:
            if len(self._records) >= MAX_TRACKED:
                self._forget(now)
            record = self._records[key] = _Record()
        return record

    def _forget(self, now: float) -> None:
        """Drop records no longer locked and past FORGET_AFTER, then the oldest if still full."""
        for key in [k for k, r in self._records.items()
                    if r.locked_until <= now and now - r.last_failure > FORGET_AFTER]:
            del self._records[key]
        while len(self._records) >= MAX_TRACKED:
            del self._records[next(iter(self._records))]
