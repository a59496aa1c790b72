"""The network of tags around the watched ones: which tags travel together on posts, drawn on
the server as a PNG (matplotlib, no script in the page), proposed tags highlighted.

Plain data in, plain data (or PNG bytes) out: warehouse.resurfacing counts the pairs, `build`
bounds the graph to its strongest links, `layout` places it (a small force-directed layout of
our own, deterministic: the same data gives the same picture) and `draw` renders it.
"""
from __future__ import annotations

import io
import math
import unicodedata
import warnings
from dataclasses import dataclass, field

import numpy as np

MAX_EDGES = 40          # links drawn at most: the strongest by posts together, then lift
KINDS = ("banned", "flagged", "watch", "proposed", "other")
COLOURS = {"banned": "#b2182b", "flagged": "#e08a1e", "watch": "#1f5f8b", "proposed": "#ffd92f",
           "other": "#bdbdbd"}
LEGEND = {"banned": "watched: banned", "flagged": "watched: flagged", "watch": "watched: watch",
          "proposed": "PROPOSED: accept or reject it", "other": "seen with them"}
LABEL_CHARS = 28


@dataclass(frozen=True)
class Node:
    tag: str           # the canonical tag (the watched tag, or the radar's key)
    label: str         # how it is written most often
    kind: str          # one of KINDS
    posts: int


@dataclass(frozen=True)
class Edge:
    a: str
    b: str
    posts: int         # posts carrying both tags
    lift: float        # how much likelier together than if they were independent


@dataclass
class Network:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    pairs_seen: int = 0    # links there were before the graph was bounded

    @property
    def proposed(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "proposed"]

    def node(self, tag: str) -> Node:
        return next(n for n in self.nodes if n.tag == tag)


def title(network: Network, period: str) -> str:
    """The picture's title: what it shows, over which period, and how it was bounded."""
    shown = len(network.edges)
    more = f" (the {shown} strongest of {network.pairs_seen})" if network.pairs_seen > shown else ""
    when = "all posts" if period == "all" else f"posts first seen in the last {period}"
    return (f"Tags on the same posts as the watched and proposed tags, {when}: "
            f"{len(network.nodes)} tags, {shown} links{more}")


def build(pairs: list[dict], tags: dict[str, dict], max_edges: int = MAX_EDGES) -> Network:
    """The graph of the `max_edges` strongest pairs ({a, b, posts, lift}: by posts, then lift)
    and their tags (`tags[tag]`: {label, kind, posts}; a tag it does not know is 'other')."""
    ranked = sorted(pairs, key=lambda p: (-p["posts"], -(p["lift"] or 0.0), p["a"], p["b"]))
    edges = [Edge(p["a"], p["b"], int(p["posts"]), float(p["lift"] or 0.0))
             for p in ranked[:max(0, max_edges)]]
    names = sorted({t for e in edges for t in (e.a, e.b)})
    nodes = []
    for name in names:
        info = tags.get(name, {})
        kind = info.get("kind") if info.get("kind") in KINDS else "other"
        nodes.append(Node(name, info.get("label") or name, kind, int(info.get("posts") or 0)))
    return Network(nodes, edges, len(pairs))


def layout(network: Network, iterations: int = 200) -> dict[str, tuple[float, float]]:
    """Positions in [-1, 1]² (Fruchterman-Reingold with a pull to the centre, so that
    separate groups stay in the picture). Starts from a circle: deterministic."""
    n = len(network.nodes)
    if n == 0:
        return {}
    index = {node.tag: i for i, node in enumerate(network.nodes)}
    angles = np.linspace(0, 2 * math.pi, n, endpoint=False)
    pos = np.column_stack([np.cos(angles), np.sin(angles)]) * 0.5
    weights = np.zeros((n, n))
    strongest = max((e.posts for e in network.edges), default=1)
    for e in network.edges:
        w = 0.5 + e.posts / strongest
        weights[index[e.a], index[e.b]] = weights[index[e.b], index[e.a]] = w
    k = 1.0 / math.sqrt(n)
    step = 0.1
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        distance = np.maximum(np.linalg.norm(delta, axis=-1), 0.01)
        force = k * k / distance ** 2 - weights * distance / k
        np.fill_diagonal(force, 0.0)
        move = np.einsum("ijk,ij->ik", delta, force) - 0.3 * pos  # repel, attract, gravity
        length = np.maximum(np.linalg.norm(move, axis=1), 1e-9)
        pos += move / length[:, None] * np.minimum(length, step)[:, None]
        step = max(step * 0.98, 0.002)
    pos -= pos.mean(axis=0)
    scale = np.abs(pos).max() or 1.0
    pos /= scale
    return {node.tag: (float(pos[i, 0]), float(pos[i, 1])) for i, node in enumerate(network.nodes)}


def shown(tag: str) -> str:
    """A tag as drawn: no control or invisible characters, at most LABEL_CHARS long."""
    text = "".join(c for c in tag if unicodedata.category(c)[0] not in "CZ" or c == " ")
    return "#" + (text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…")


def draw(network: Network, title: str) -> bytes:
    """The network as PNG bytes: node size by posts, link width by posts together, colour by
    kind; proposed tags large, yellow, outlined in black and labelled in bold."""
    from matplotlib.figure import Figure  # no pyplot: no global state, safe in a web worker
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(9, 6.5), dpi=100)
    ax = fig.add_subplot()
    ax.set_axis_off()
    # parse_math=False everywhere: tags are typed by outsiders and "$...$" must stay text.
    ax.set_title(title, fontsize=10, parse_math=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # glyphs a font lacks (emoji, other scripts) are boxes
        if not network.edges:
            ax.text(0.5, 0.5, "no tag seen together with a watched or proposed tag in this period",
                    ha="center", va="center", fontsize=10, transform=ax.transAxes, parse_math=False)
        else:
            _draw_graph(ax, network, layout(network))
            present = [k for k in KINDS if any(n.kind == k for n in network.nodes)]
            ax.legend(handles=[Line2D([], [], marker="o", linestyle="", markersize=9,
                                      markerfacecolor=COLOURS[k],
                                      markeredgecolor="black" if k == "proposed" else "white",
                                      markeredgewidth=2 if k == "proposed" else 1, label=LEGEND[k])
                               for k in present], loc="lower left", fontsize=8, frameon=False)
        out = io.BytesIO()
        fig.savefig(out, format="png")
    return out.getvalue()


def _draw_graph(ax, network: Network, pos: dict) -> None:
    strongest = max(e.posts for e in network.edges)
    for e in network.edges:
        (x1, y1), (x2, y2) = pos[e.a], pos[e.b]
        ax.plot([x1, x2], [y1, y2], color="#8c8c8c", alpha=0.7, zorder=1,
                linewidth=0.6 + 3.4 * e.posts / strongest)
    most = max(n.posts for n in network.nodes) or 1
    for node in sorted(network.nodes, key=lambda n: n.kind == "proposed"):  # proposals on top
        x, y = pos[node.tag]
        proposed = node.kind == "proposed"
        size = 120 + 700 * math.sqrt(node.posts / most) + (250 if proposed else 0)
        ax.scatter([x], [y], s=size, color=COLOURS[node.kind], zorder=3 if proposed else 2,
                   edgecolors="black" if proposed else "white", linewidths=2.5 if proposed else 1)
        ax.annotate(shown(node.label), (x, y), xytext=(0, 9 + math.sqrt(size) / 2),
                    textcoords="offset points", ha="center", fontsize=9 if proposed else 8,
                    fontweight="bold" if proposed else "normal", zorder=4, annotation_clip=False,
                    parse_math=False,
                    bbox=dict(boxstyle="round,pad=0.2", fc="#fff3b0", ec="black", lw=0.8)
                    if proposed else None)
    ax.margins(0.12)
