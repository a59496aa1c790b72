"""The network of tags around the watched ones (issue 17 item 8): the pairs counted in the
warehouse, the graph bounded to its strongest links, drawn as a PNG with proposals highlighted,
and `tagwatch resurfacing --network out.png`."""
from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from matplotlib.image import imread

from radar import network as nw
from tagwatch import cli
from warehouse import queries, resurfacing
from warehouse.db import session

from test_resurfacing import add_posts, add_scores

NOW = datetime.now(timezone.utc)
PNG = b"\x89PNG\r\n\x1a\n"
YELLOW = np.array([0xff, 0xd9, 0x2f]) / 255  # the proposals' colour


def propose(con, tag: str, spelling: str | None = None) -> None:
    con.execute("INSERT INTO tag_proposals (tag, spelling, status, posts, support, lift, previous_posts, "
                "first_proposed_at, updated_at) VALUES (?, ?, 'proposed', 5, 4, 3.0, 0, now(), now())",
                [tag, spelling or tag])


@pytest.fixture
def con(tmp_path):
    with session(tmp_path / "w.duckdb") as c:
        queries.watchlist_add(c, "slapateacher", "banned")
        queries.watchlist_add(c, "teachersoftiktok", "watch")
        day = NOW - timedelta(days=1)
        rows = [("tiktok", f"a{i}", ["sl4pateacher", "schoolprank", "fyp"], day) for i in range(4)]
        rows += [("tiktok", f"b{i}", ["teachersoftiktok", "fyp"], day) for i in range(3)]
        rows += [("mastodon", "c0", ["teachersoftiktok", "maths"], day)]
        # Two tags that travel together but never with a watched or proposed one: not drawn.
        rows += [("mastodon", f"d{i}", ["cats", "dogs"], day) for i in range(6)]
        rows += [("mastodon", "old", ["slapateacher", "ancient"], NOW - timedelta(days=40))]
        add_posts(c, rows)
        add_scores(c, {f"a{i}" for i in range(4)}, [r[1] for r in rows])
        resurfacing.refresh_matches(c)
        propose(c, "schoolprank")
        yield c


def test_the_pairs_are_those_around_watched_and_proposed_tags(con):
    net = resurfacing.tag_network(con, NOW - timedelta(days=7))
    links = {(e.a, e.b): e for e in net.edges}
    assert set(links) == {("fyp", "schoolprank"), ("fyp", "slapateacher"), ("schoolprank", "slapateacher"),
                          ("fyp", "teachersoftiktok"), ("maths", "teachersoftiktok")}
    assert links[("schoolprank", "slapateacher")].posts == 4
    # 14 tagged posts in the window; slapateacher and schoolprank on 4 each, always together
    assert links[("schoolprank", "slapateacher")].lift == pytest.approx(4 * 14 / (4 * 4))
    kinds = {n.tag: (n.kind, n.label, n.posts) for n in net.nodes}
    assert kinds["slapateacher"] == ("banned", "sl4pateacher", 4)   # drawn as it is written
    assert kinds["schoolprank"][0] == "proposed" and kinds["teachersoftiktok"][0] == "watch"
    assert kinds["fyp"][0] == "other" and "cats" not in kinds and "ancient" not in kinds
    assert [n.tag for n in net.proposed] == ["schoolprank"]
    everything = resurfacing.tag_network(con, None)
    assert ("ancient", "slapateacher") in {(e.a, e.b) for e in everything.edges}


def test_the_graph_is_bounded_to_its_strongest_links(con):
    net = resurfacing.tag_network(con, NOW - timedelta(days=7), max_edges=2)
    # three pairs on 4 posts each: the one with the highest lift first, then by name
    assert [(e.a, e.b) for e in net.edges] == [("schoolprank", "slapateacher"), ("fyp", "schoolprank")]
    assert net.pairs_seen == 5 and {n.tag for n in net.nodes} == {"fyp", "schoolprank", "slapateacher"}
    pairs = [{"a": f"t{i:03}", "b": "watched", "posts": i, "lift": 1.0} for i in range(500)]
    big = nw.build(pairs, {"watched": {"kind": "banned"}})
    assert len(big.edges) == nw.MAX_EDGES and big.edges[0].posts == 499 and len(big.nodes) == 41
    assert "the 40 strongest of 500" in nw.title(big, "7d")


def drawn(net: nw.Network) -> np.ndarray:
    image = nw.draw(net, nw.title(net, "7d"))
    assert image.startswith(PNG)
    return imread(io.BytesIO(image), format="png")[..., :3]


def yellow_pixels(pixels: np.ndarray) -> int:
    return int((np.abs(pixels - YELLOW).max(axis=-1) < 0.02).sum())


def test_the_picture_is_a_png_with_the_proposals_highlighted(con):
    net = resurfacing.tag_network(con, NOW - timedelta(days=7))
    with_proposal = drawn(net)
    assert with_proposal.shape[:2] == (650, 900)
    assert yellow_pixels(with_proposal) > 300  # the proposal's node, filled yellow
    con.execute("UPDATE tag_proposals SET status = 'rejected'")
    without = resurfacing.tag_network(con, NOW - timedelta(days=7))
    assert without.proposed == [] and yellow_pixels(drawn(without)) == 0
    assert layout_is_stable(net)


def layout_is_stable(net: nw.Network) -> bool:
    first, second = nw.layout(net), nw.layout(net)
    inside = all(-1.0 <= v <= 1.0 for xy in first.values() for v in xy)
    apart = min(np.hypot(a[0] - b[0], a[1] - b[1]) for i, a in enumerate(first.values())
                for b in list(first.values())[i + 1:])
    return first == second and inside and apart > 0.05


def test_hostile_and_empty_networks_still_draw(con):
    hostile = "$\\frac{1}{0}$\x1b[31m\u202e" + "x" * 200
    pairs = [{"a": hostile, "b": "slapateacher", "posts": 3, "lift": 2.0}]
    net = nw.build(pairs, {hostile: {"kind": "proposed", "label": hostile}})
    assert yellow_pixels(drawn(net)) > 0
    assert nw.shown(hostile).startswith("#$\\frac{1}{0}$[31m") and len(nw.shown(hostile)) == 29
    assert drawn(resurfacing.tag_network(con, NOW + timedelta(days=1))).shape[:2] == (650, 900)


def test_resurfacing_network_from_the_cli(con, tmp_path, capsys):
    db = str(tmp_path / "w.duckdb")
    con.close()  # the CLI opens the warehouse itself
    out = tmp_path / "radar.png"
    assert cli.main(["resurfacing", "--db", db, "--network", str(out), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("section,tag")  # stdout stays the CSV
    # the radar's refresh proposes #fyp too (on 4 of its 7 posts with the banned tag)
    assert "network of 5 tags and 5 links (proposed: #fyp, #schoolprank)" in captured.err
    assert out.read_bytes().startswith(PNG) and yellow_pixels(imread(str(out))[..., :3]) > 0
    for bad, message in ((tmp_path / "radar.svg", "ending in .png"),
                         (tmp_path / "nope" / "r.png", "does not exist")):
        assert cli.main(["resurfacing", "--db", db, "--network", str(bad)]) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and not bad.exists()
    assert cli.main(["resurfacing", "--db", db, "--network", str(out), "--network-links", "2"]) == 0
    assert "network of 3 tags and 2 links" in capsys.readouterr().err
