"""`make soak`: the loader, the review app and re-checks together for a while (default 10 min).

Everything is real and local: the Mastodon replay server (new abusive posts keep arriving),
`tagwatch run` in a loop (collect, load, score, open cases), `tagwatch case recheck --now`
in a loop against the same server, and analysts confirming or dismissing cases through
`tagwatch serve` over HTTP. At the end it prints what reviewers saw go wrong (a 5xx, an error
or "busy" page, a refused connection: must be 0) and decisions the app accepted that are
not in the warehouse (must be 0); exit 1 if either is not 0.

    python bench/soak.py [--minutes 10] [--reviewers 2]      (SOAK_MINUTES in the Makefile)
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402
import requests  # noqa: E402

from fakes.mastodon import MastodonReplayServer, load_sample, make_status  # noqa: E402

TAGWATCH = [sys.executable, "-m", "tagwatch.cli"]
TAGS = ("exposeyourteacher", "ratemyteacher")
PASSWORD = "a long soak passphrase"
ABUSE = ["mr {n} the maths teacher is a disgusting liar, someone slap him",
         "our head teacher {n} is useless trash and should be hit",
         "lovely school trip today with class {n}"]


class Soak:
    def __init__(self, env: dict, url: str, server, deadline: float):
        self.env, self.url, self.server, self.deadline = env, url, server, deadline
        self.lock = threading.Lock()
        self.shown_errors: list[str] = []     # what a reviewer saw go wrong
        self.decisions: dict[int, str] = {}   # case -> decision the app accepted
        self.runs = self.run_failures = self.rechecks = self.recheck_failures = 0
        self.next_id = max(int(s["id"]) for s in load_sample()) + 1

    def tagwatch(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([*TAGWATCH, *args], capture_output=True, text=True, env=self.env,
                              timeout=900)

    def loader(self) -> None:
        """New posts on the platform, then a monitoring run, over and over."""
        n = 0
        while time.monotonic() < self.deadline:
            for _ in range(20):
                self.server.add_status(make_status(self.next_id, (TAGS[n % 2],),
                                                   content=f"<p>{ABUSE[n % 3].format(n=n)}</p>"))
                self.next_id += 1
                n += 1
            proc = self.tagwatch("run")
            with self.lock:
                self.runs += 1
                self.run_failures += proc.returncode != 0
            if proc.returncode != 0:
                print(f"run failed: {proc.stderr.strip()[-300:]}", flush=True)

    def rechecker(self) -> None:
        while time.monotonic() < self.deadline:
            proc = self.tagwatch("case", "recheck", "--now")
            with self.lock:
                self.rechecks += 1
                self.recheck_failures += proc.returncode not in (0, 1) or "Traceback" in proc.stderr
            time.sleep(5)

    def reviewer(self, name: str, decision: str, share: tuple[int, int]) -> None:
        """Decide the cases of this reviewer's share (case id modulo), as a team splits a queue."""
        web = requests.Session()
        token = self._login(web, name)
        while time.monotonic() < self.deadline:
            page = self._get(web, "/")
            if page is None:
                continue
            open_cases = [int(c) for c in re.findall(r'class="open" href="/cases/(\d+)"', page)]
            with self.lock:
                todo = [c for c in open_cases if c not in self.decisions and c % share[1] == share[0]]
            if not todo:
                time.sleep(1)
                continue
            case = todo[0]
            try:
                r = web.post(f"{self.url}/cases/{case}/review", timeout=900, allow_redirects=False,
                             data={"csrf": token, "decision": decision})
            except requests.RequestException as exc:
                self._shown(f"{name}: POST review {case}: {exc}")
                continue
            if r.status_code == 303:
                with self.lock:
                    self.decisions.setdefault(case, decision)
                if decision == "confirm":  # reported: the re-checks now watch it
                    self._post(web, f"/cases/{case}/report", {"csrf": token, "channel": "in-app",
                                                              "reference": f"SOAK-{case}"})
            else:
                self._shown(f"{name}: POST review {case}: HTTP {r.status_code}")

    def _post(self, web: requests.Session, path: str, data: dict) -> None:
        try:
            r = web.post(f"{self.url}{path}", data=data, timeout=900, allow_redirects=False)
        except requests.RequestException as exc:
            self._shown(f"POST {path}: {exc}")
            return
        if r.status_code != 303:
            self._shown(f"POST {path}: HTTP {r.status_code}")

    def _login(self, web: requests.Session, name: str) -> str:
        form = web.get(f"{self.url}/login", timeout=60).text
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        web.post(f"{self.url}/login", data={"csrf": token, "name": name, "password": PASSWORD},
                 timeout=60)
        return re.search(r'name="csrf" value="([^"]+)"', web.get(f"{self.url}/", timeout=60).text).group(1)

    def _get(self, web: requests.Session, path: str) -> str | None:
        try:
            r = web.get(f"{self.url}{path}", timeout=900)
        except requests.RequestException as exc:
            self._shown(f"GET {path}: {exc}")
            return None
        if r.status_code >= 400 or "Internal Server Error" in r.text:
            self._shown(f"GET {path}: HTTP {r.status_code}")
            return None
        return r.text

    def _shown(self, what: str) -> None:
        with self.lock:
            self.shown_errors.append(what)
        print(f"shown to a reviewer: {what}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen) -> None:
    while proc.poll() is None:
        try:
            requests.get(f"{url}/login", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"tagwatch serve ended: {proc.stderr.read()}")


def lost_decisions(db: Path, decisions: dict[int, str]) -> list[int]:
    want = {"confirm": "CONFIRMED", "dismiss": "DISMISSED"}
    with duckdb.connect(str(db), read_only=True) as con:
        done = {(r[0], r[1]) for r in con.execute(
            "SELECT case_id, to_state FROM case_events WHERE to_state IN ('CONFIRMED', 'DISMISSED')"
        ).fetchall()}
    return sorted(c for c, d in decisions.items() if (c, want[d]) not in done)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 10)))
    parser.add_argument("--reviewers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tagwatch-soak-"))
    env = {**os.environ, "TAGWATCH_DATA_DIR": str(work), "TAGWATCH_DB": str(work / "tagwatch.duckdb"),
           "PYTHONPATH": str(ROOT), "TAGWATCH_PSEUDONYM_KEY": "soak-key"}
    for name in ("TAGWATCH_STAGING_DIR", "TAGWATCH_STATE_DIR", "TAGWATCH_MODELS_DIR"):
        env.pop(name, None)
    if os.environ.get("SOAK_MODELS_DIR"):  # a trained model to reuse (else one is trained)
        env["TAGWATCH_MODELS_DIR"] = os.environ["SOAK_MODELS_DIR"]
    seconds = args.minutes * 60
    with MastodonReplayServer(load_sample(), max_lifetime=seconds + 1800) as server:
        setup = Soak(env, "", server, 0)
        for command in (["sources", "add", "--platform", "mastodon", "--base-url", server.url],
                        ["watchlist", "add", *TAGS], ["run"]):
            proc = setup.tagwatch(*command)
            if proc.returncode != 0:
                raise SystemExit(f"set-up failed: tagwatch {' '.join(command)}: {proc.stderr}")
        names = [f"analyst{i}" for i in range(args.reviewers)]
        for name in names:
            subprocess.run([*TAGWATCH, "user", "add", name, "--role", "analyst"], input=PASSWORD + "\n",
                           text=True, env=env, check=True, capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve = subprocess.Popen([*TAGWATCH, "serve", "--port", str(port)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(url, serve)
            soak = Soak(env, url, server, time.monotonic() + seconds)
            soak.next_id = setup.next_id
            threads = [threading.Thread(target=soak.loader), threading.Thread(target=soak.rechecker)]
            threads += [threading.Thread(target=soak.reviewer,
                                         args=(n, ("confirm", "dismiss")[i % 2], (i, len(names))))
                        for i, n in enumerate(names)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - started
            last = requests.Session()  # the next connection applies any journalled decision
            soak._login(last, names[0])
        finally:
            serve.terminate()
            serve.wait(timeout=60)
    lost = lost_decisions(work / "tagwatch.duckdb", soak.decisions)
    with duckdb.connect(str(work / "tagwatch.duckdb"), read_only=True) as con:
        posts, cases, rechecks = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                                  for t in ("posts", "cases", "rechecks"))
    print(f"soak: {elapsed / 60:.1f} min; {soak.runs} monitoring runs ({soak.run_failures} failed), "
          f"{posts} posts, {cases} cases; {soak.rechecks} re-check rounds ({soak.recheck_failures} "
          f"failed), {rechecks} re-checks stored; {len(soak.decisions)} decisions by "
          f"{len(names)} reviewers")
    print(f"errors shown to reviewers: {len(soak.shown_errors)}")
    print(f"decisions lost: {len(lost)}" + (f" (cases {lost[:20]})" if lost else ""))
    return 1 if soak.shown_errors or lost or soak.run_failures or soak.recheck_failures else 0


if __name__ == "__main__":
    sys.exit(main())
