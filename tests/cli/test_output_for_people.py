"""Output for people (issue 18 item 3): tables fit the terminal, times to the second, counts
in words that agree with their number."""
from __future__ import annotations

import re

from casekit import seed
from fakes.mastodon import MastodonReplayServer, make_status
from reports.document import count_of
from tagwatch import cli

LONG = "an invented note that goes on and on about why this tag is watched " * 3


def table(capsys, *args) -> list[str]:
    assert cli.main(list(args)) == 0
    return capsys.readouterr().out.splitlines()


def test_tables_fit_the_terminal_width(settings, capsys, monkeypatch):
    with MastodonReplayServer(max_lifetime=60) as server:
        seed(settings, server, [make_status(1, content=f"<p>Mr Invented is a creep, {LONG}</p>")], [0.9])
    assert cli.main(["watchlist", "add", "slapateacher", "--status", "banned", "--note", LONG]) == 0
    capsys.readouterr()
    monkeypatch.delenv("COLUMNS", raising=False)  # not a terminal: nothing is narrowed
    assert max(map(len, table(capsys, "flagged"))) > 150
    monkeypatch.setenv("COLUMNS", "100")
    for args in (["flagged"], ["watchlist", "list"], ["case", "list"]):
        lines = table(capsys, *args)
        assert len(lines) >= 2 and max(map(len, lines)) <= 100, (args, lines)
    assert "…" in table(capsys, "watchlist", "list")[1]  # the note is cut, visibly


def test_times_are_shown_to_the_second(settings, capsys):
    assert cli.main(["watchlist", "add", "teachersoftiktok"]) == 0
    capsys.readouterr()
    row = table(capsys, "watchlist", "list")[1]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d", row), row
    assert not re.search(r":\d\d\.\d+", row)  # no microseconds


def test_counts_agree_with_their_number():
    assert count_of(1, "case") == "1 case" and count_of(2, "case") == "2 cases"
    assert count_of(0, "report", were=True) == "0 reports were"
    assert count_of(1, "confirmed post", were=True) == "1 confirmed post was"
