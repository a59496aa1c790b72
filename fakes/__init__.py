"""Local fakes of the platforms' APIs, served on 127.0.0.1 for tests, the demo and benchmarks:
the Mastodon replay of the bundled sample (`mastodon.py`, `sample/`), Bluesky (`bluesky.py`) and
TikTok's Research API (`tiktok.py`), all on one server with injected faults and clocks (`api.py`).
Product code never imports them; the `tagwatch demo` and `tagwatch replay-server` commands do."""
