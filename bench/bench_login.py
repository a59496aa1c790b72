"""A logged-in analyst's queue page while 96 anonymous logins arrive at once, against a real
`tagwatch serve` on 127.0.0.1. Prints the page's median time alone, then its median and
slowest time while the logins run (issue 13 item 5: 36 ms -> 914 ms before the fix).

    python bench/bench_login.py                 # this checkout
    python bench/bench_login.py --tree OTHER    # another checkout (e.g. the code before the fix)
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

PASSWORD = "a long passphrase"


def token(page) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def timed_page(http, url) -> float:
    t = time.perf_counter()
    r = http.get(f"{url}/", timeout=300, allow_redirects=False)
    assert r.status_code == 200, r.status_code
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", default=str(Path(__file__).resolve().parent.parent))
    ap.add_argument("--logins", type=int, default=96)
    args = ap.parse_args()
    tree = str(Path(args.tree).resolve())
    env = {**os.environ, "PYTHONPATH": tree}  # and cwd=tree: `python -m` puts the cwd first
    data = Path(tempfile.mkdtemp(prefix="bench-login-"))
    env.update(TAGWATCH_DATA_DIR=str(data), TAGWATCH_DB=str(data / "tagwatch.duckdb"),
               TAGWATCH_PSEUDONYM_KEY="bench")
    subprocess.run([sys.executable, "-m", "tagwatch.cli", "user", "add", "ana", "--role", "analyst"],
                   input=PASSWORD + "\n", text=True, env=env, check=True, capture_output=True, cwd=tree)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tagwatch.cli", "serve", "--port", str(port)],
                              env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                requests.get(f"{url}/login", timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        analyst = requests.Session()
        analyst.post(f"{url}/login", data={"csrf": token(analyst.get(f"{url}/login")), "name": "ana",
                                           "password": PASSWORD}, timeout=60)
        alone = [timed_page(analyst, url) for _ in range(20)]
        strangers = [requests.Session() for _ in range(args.logins)]
        forms = [{"csrf": token(s.get(f"{url}/login")), "name": f"stranger{i}", "password": "a guess"}
                 for i, s in enumerate(strangers)]
        codes: list[int] = []
        threads = [threading.Thread(target=lambda s=s, f=f: codes.append(
            s.post(f"{url}/login", data=f, timeout=600).status_code)) for s, f in zip(strangers, forms)]
        for t in threads:
            t.start()
        during = []
        while any(t.is_alive() for t in threads) or not during:
            during.append(timed_page(analyst, url))
        for t in threads:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    answers = {c: codes.count(c) for c in sorted(set(codes))}
    print(f"{tree}: analyst's queue page alone median {statistics.median(alone) * 1000:.0f} ms; during "
          f"{args.logins} anonymous logins median {statistics.median(during) * 1000:.0f} ms, slowest "
          f"{max(during) * 1000:.0f} ms ({len(during)} pages); login answers {answers}")


if __name__ == "__main__":
    main()
