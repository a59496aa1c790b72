"""Incidents: one piece of content seen as several cases, across platforms and re-uploads.

When a case opens it joins the incident of an earlier case that has
- the same text (`text_hash`): the resurfacing comparison (warehouse.queries.NORMALISED_TEXT:
  case and white space ignored, SHA-256, at least 20 characters);
- the same video (`video`): a TikTok video id (a TikTok post's own, or a tiktok.com/.../video/ID
  link in the text) or a YouTube video id (youtube.com/watch?v=, /shorts/, youtu.be/);
- the same linked URL (`link`): a link in the text, or the post's own address, read without its
  scheme, `www.`/`m.`, fragment, tracking parameters (utm_*, fbclid, ...) and trailing slash; a bare
  domain (no path, no query) links to no content and is not a key;
- near-duplicate text (`near_duplicate`): the Jaccard similarity of the sets of 3-word shingles is at
  least NEAR_DUPLICATE (0.5). Words: letters and digits after Unicode NFKC, case and accents folded;
  links, @mentions and #hashtags left out (they differ between platforms); texts of fewer than
  MIN_WORDS (8) words are never near-duplicates of anything;
- or it is a RESURFACED child case: it joins its parent's incident (`resurfaced`).
Otherwise it starts an incident of its own (`first`); incident_id is its case_id.

Bounded work per new case, no scan of all pairs: every case stores hashed keys
(`case_content_keys`: the text hash, video ids, links, and MINHASH_BANDS locality-sensitive
bands of a MinHash signature of its shingles). A new case looks up only the earlier cases that
share a key, at most MAX_CANDIDATES per kind of key (the most recent), and computes the Jaccard
similarity only for those. A text's first MAX_WORDS words and MAX_LINKS links are keyed.
With 24 bands of 3 hashes, a pair at Jaccard 0.5 shares a band with
probability 1 - (1 - 0.5^3)^24 = 0.96, at 0.6: 0.997; at 0.2 only 0.18 (a few extra comparisons).
When several earlier cases match, the strongest reason wins (the order above), then the oldest
incident. Incidents are never merged afterwards, so an incident id, once shown, stays.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np

from warehouse.db import transaction
from warehouse.queries import MIN_SAME_TEXT, NORMALISED_TEXT, dict_rows

REASONS = ("resurfaced", "text_hash", "video", "link", "near_duplicate")  # strongest first
NEAR_DUPLICATE = 0.5
MIN_WORDS = 8
SHINGLE = 3
MINHASH_BANDS, MINHASH_ROWS = 24, 3
MAX_CANDIDATES = 20   # earlier cases compared per kind of key, at most (the most recent)
MAX_SIBLINGS = 200    # sibling cases listed on a case page / in a pack, at most
BATCH = 2000          # cases assigned per step (a backfill walks the warehouse in steps)
MAX_WORDS = 2000      # words of a text shingled, at most (a long transcript costs no more)
MAX_LINKS = 20        # links of a text keyed, at most

_URL = re.compile(r"(?i)(?:https?://|(?<![\w.@/])www\.)[^\s<>\"'`]+")
_MENTION = re.compile(r"(?<![\w/])@[\w.\-]+(?:@[\w.\-]+)?")
_HASHTAG = re.compile(r"(?<![\w&/])#\w+")
_WORD = re.compile(r"[^\W_]+")
_SPOKEN = "[spoken]"   # collectors.tiktok.SPOKEN_PREFIX: the marker, not the speaker's words
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|igshid|si|ref_src|_t|_r|is_from_webapp|sender_device)$")
_TIKTOK_VIDEO = re.compile(r"^/(?:@[^/]+/)?(?:video|v)/(\d{6,25})(?:\.html)?$")
_YOUTUBE_ID = re.compile(r"^[\w-]{6,20}$")

_RNG = np.random.default_rng(17)
_A = _RNG.integers(1, 2**63, size=MINHASH_BANDS * MINHASH_ROWS, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**63, size=MINHASH_BANDS * MINHASH_ROWS, dtype=np.uint64)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- what content is keyed by (pure) ------------------------------------------------------------

def words(text: str | None) -> list[str]:
    """The words near-duplicates are compared by (links, mentions and hashtags left out)."""
    text = unicodedata.normalize("NFKC", text or "").replace(_SPOKEN, " ")
    text = _HASHTAG.sub(" ", _MENTION.sub(" ", _URL.sub(" ", text)))
    folded = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(ch for ch in folded if not unicodedata.combining(ch)))


def shingles(text: str | None) -> set[str]:
    """The 3-word shingles of a text of at least MIN_WORDS words; empty for shorter texts."""
    w = words(text)[:MAX_WORDS]
    if len(w) < MIN_WORDS:
        return set()
    return {" ".join(w[i:i + SHINGLE]) for i in range(len(w) - SHINGLE + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def minhash_bands(shingle_set: set[str]) -> list[int]:
    """One key per band of the MinHash signature (MINHASH_BANDS bands of MINHASH_ROWS hashes)."""
    if not shingle_set:
        return []
    base = np.array([int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little")
                     for s in sorted(shingle_set)], dtype=np.uint64)
    with np.errstate(over="ignore"):
        signature = (base[:, None] * _A[None, :] + _B[None, :]).min(axis=0)
    rows = signature.reshape(MINHASH_BANDS, MINHASH_ROWS)
    return [_key(f"band:{i}:" + rows[i].tobytes().hex()) for i in range(MINHASH_BANDS)]


def links(text: str | None) -> list[str]:
    """The links written in a text, as they appear (trailing punctuation dropped)."""
    return [m.group(0).rstrip(".,;:!?)]}'\"…") for m in _URL.finditer(text or "")]


def link_key(raw: str) -> tuple[str, str] | None:
    """('video', 'tiktok:ID' | 'youtube:ID') or ('link', normalised address); None for a bare
    domain or what is not a web address."""
    raw = raw.strip()
    if raw.lower().startswith("www."):
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or "." not in host:
        return None
    host = re.sub(r"^(?:www|m|mobile)\.", "", host)
    path = re.sub(r"/+$", "", parts.path)
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not _TRACKING.match(k.lower()))
    video = video_of(host, path, dict(query))
    if video:
        return "video", video
    if not path and not query:
        return None
    return "link", host + path + ("?" + urlencode(query) if query else "")


def video_of(host: str, path: str, query: dict) -> str | None:
    """The video a link points at: 'tiktok:ID' or 'youtube:ID', else None."""
    if host == "tiktok.com" or host.endswith(".tiktok.com"):
        m = _TIKTOK_VIDEO.match(path)
        return f"tiktok:{m.group(1)}" if m else None
    candidate = None
    if host == "youtu.be":
        candidate = path.lstrip("/")
    elif host in ("youtube.com", "music.youtube.com"):
        if path == "/watch":
            candidate = query.get("v")
        elif re.match(r"^/(shorts|embed|live)/", path):
            candidate = path.split("/")[2]
    return f"youtube:{candidate}" if candidate and _YOUTUBE_ID.match(candidate) else None


def content_keys(case: dict) -> list[tuple[str, int]]:
    """(kind, key) of one case: case has platform, post_id, parent_post_id, text, url, text_hash."""
    keys: set[tuple[str, int]] = set()
    if case.get("text_hash"):
        keys.add(("text_hash", int.from_bytes(bytes.fromhex(case["text_hash"][:16]), "big", signed=True)))
    if case["platform"] == "tiktok" and not case.get("parent_post_id"):
        keys.add(("video", _key(f"tiktok:{case['post_id']}")))
    own = [] if case.get("parent_post_id") else [case.get("url") or ""]  # a comment's url is its video's
    for raw in [*own, *links(case.get("text"))[:MAX_LINKS]]:
        found = link_key(raw)
        if found:
            keys.add((found[0], _key(found[1])))
    keys.update(("band", k) for k in minhash_bands(shingles(case.get("text"))))
    return sorted(keys)


def _key(value: str) -> int:
    """The first 8 bytes of the SHA-256 of `value`, as a signed integer (BIGINT)."""
    return int.from_bytes(hashlib.sha256(value.encode("utf-8")).digest()[:8], "big", signed=True)


# --- assigning ----------------------------------------------------------------------------------

_CONTENT = f"""
    SELECT c.case_id, c.platform, c.post_id, c.parent_case_id, p.parent_post_id,
           coalesce(e.text, p.text) AS text, coalesce(e.url, p.url) AS url,
           CASE WHEN length({NORMALISED_TEXT.format(col="coalesce(e.text, p.text)")}) >= {MIN_SAME_TEXT}
                THEN sha256({NORMALISED_TEXT.format(col="coalesce(e.text, p.text)")}) END AS text_hash
    FROM cases c LEFT JOIN posts p USING (platform, post_id) LEFT JOIN evidence e USING (case_id)
"""


def assign(con, now: datetime | None = None) -> int:
    """Give every case without an incident one (new cases, and the backfill of old ones), in
    the order cases were opened; returns how many were assigned."""
    now, total = now or utcnow(), 0
    while True:
        with transaction(con):
            pending = [r[0] for r in con.execute(
                f"SELECT case_id FROM cases ANTI JOIN case_incidents USING (case_id) "
                f"ORDER BY case_id LIMIT {BATCH}").fetchall()]
            if not pending:
                return total
            _assign_batch(con, content(con, pending), now)
        total += len(pending)


def content(con, case_ids: list[int]) -> list[dict]:
    """What the keys of these cases are made from (the frozen evidence first, else the post)."""
    sql = _CONTENT.replace("FROM cases c", "FROM cases c JOIN (SELECT unnest(?::BIGINT[]) AS case_id) ids USING (case_id)")
    return dict_rows(con.execute(f"{sql} ORDER BY case_id", [case_ids]))


def _assign_batch(con, batch: list[dict], now: datetime) -> None:
    rows = [(c["case_id"], kind, key) for c in batch for kind, key in content_keys(c)]
    if rows:
        con.execute("INSERT INTO case_content_keys SELECT unnest(?::BIGINT[]), unnest(?::VARCHAR[]), "
                    "unnest(?::BIGINT[])", [list(col) for col in zip(*rows)])
    ids = [c["case_id"] for c in batch]
    hits = candidates(con, ids)
    earlier = sorted({other for _, _, other in hits} | {c["parent_case_id"] for c in batch
                                                         if c["parent_case_id"]})
    incident_of = dict(con.execute("SELECT case_id, incident_id FROM case_incidents "
                                   "WHERE case_id IN (SELECT unnest(?::BIGINT[]))", [earlier]).fetchall())
    texts = {c["case_id"]: c["text"] for c in batch}
    outside = [o for _, kind, o in hits if kind == "band" and o not in texts]
    texts.update({r["case_id"]: r["text"] for r in content(con, sorted(set(outside)))})
    by_case: dict[int, list[tuple[str, int]]] = {}
    for case_id, kind, other in hits:
        by_case.setdefault(case_id, []).append((kind, other))
    assigned = []
    for c in batch:
        incident, matched, reason, similarity = _choose(c, by_case.get(c["case_id"], []), incident_of, texts)
        incident_of[c["case_id"]] = incident
        assigned.append((c["case_id"], incident, matched, reason, similarity))
    con.execute("INSERT INTO case_incidents SELECT unnest(?::BIGINT[]), unnest(?::BIGINT[]), "
                "unnest(?::BIGINT[]), unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), ?",
                [*(list(col) for col in zip(*assigned)), now])


def candidates(con, case_ids: list[int]) -> list[tuple[int, str, int]]:
    """(case, kind of key, earlier case sharing such a key): at most MAX_CANDIDATES earlier
    cases (the most recent) per case and kind. A lookup of keys, never a scan of pairs."""
    return con.execute(
        """
        WITH mine AS (SELECT k.* FROM case_content_keys k JOIN (SELECT unnest(?::BIGINT[]) AS case_id) USING (case_id)),
        hits AS (SELECT DISTINCT m.case_id, m.kind, k.case_id AS other
                 FROM mine m JOIN case_content_keys k
                   ON k.key = m.key AND k.kind = m.kind AND k.case_id < m.case_id),
        ranked AS (SELECT *, row_number() OVER (PARTITION BY case_id, kind ORDER BY other DESC) AS n
                   FROM hits)
        SELECT case_id, kind, other FROM ranked WHERE n <= ? ORDER BY ALL
        """, [case_ids, MAX_CANDIDATES]).fetchall()


def _choose(case: dict, hits: list[tuple[str, int]], incident_of: dict, texts: dict):
    """(incident_id, matched case, reason, similarity) of one new case."""
    parent = case["parent_case_id"]
    if parent and parent in incident_of:
        return incident_of[parent], parent, "resurfaced", None
    best = None
    mine = None
    for kind, other in hits:
        if other not in incident_of:
            continue
        similarity = None
        if kind == "band":
            mine = shingles(case["text"]) if mine is None else mine
            similarity = jaccard(mine, shingles(texts.get(other)))
            if similarity < NEAR_DUPLICATE:
                continue
            kind = "near_duplicate"
        rank = (REASONS.index(kind), -(similarity or 0), incident_of[other], other)
        if best is None or rank < best[0]:
            best = (rank, other, kind, similarity)
    if best is None:
        return case["case_id"], None, "first", None
    _, other, kind, similarity = best
    return incident_of[other], other, kind, None if similarity is None else round(similarity, 4)


# --- reading ------------------------------------------------------------------------------------

def of_case(con, case_id: int) -> dict | None:
    """The incident of a case: its id, how this case joined, how many cases and platforms it
    spans, and the sibling cases (at most MAX_SIBLINGS, oldest first). None when not assigned."""
    row = dict_rows(con.execute("SELECT incident_id, matched_case, reason, similarity FROM case_incidents "
                                "WHERE case_id = ?", [case_id]))
    if not row:
        return None
    incident = row[0]
    size = con.execute("SELECT count(*), count(DISTINCT c.platform) FROM case_incidents i "
                       "JOIN cases c USING (case_id) WHERE i.incident_id = ?",
                       [incident["incident_id"]]).fetchone()
    return {**incident, "cases": size[0], "platforms": size[1],
            "siblings": siblings(con, incident["incident_id"], exclude=case_id)}


def siblings(con, incident_id: int, exclude: int | None = None, limit: int = MAX_SIBLINGS) -> list[dict]:
    """The cases of an incident (but `exclude`), oldest first, with state, post and how matched."""
    return dict_rows(con.execute(
        f"""
        SELECT i.case_id, c.platform, c.post_id, s.state, c.origin, c.opened_at, i.reason,
               i.matched_case, i.similarity, coalesce(e.url, p.url) AS url, p.created_at,
               p.first_seen_at, e.content_sha256
        FROM case_incidents i JOIN cases c USING (case_id) JOIN case_state s USING (case_id)
        LEFT JOIN posts p ON p.platform = c.platform AND p.post_id = c.post_id
        LEFT JOIN evidence e ON e.case_id = c.case_id
        WHERE i.incident_id = ? AND i.case_id IS DISTINCT FROM ?
        ORDER BY i.case_id LIMIT {int(limit)}
        """, [incident_id, exclude]))


def listing(con, limit: int = 500) -> list[dict]:
    """Incidents of more than one case, the largest first: cases, platforms, the case ids."""
    return dict_rows(con.execute(
        f"""
        SELECT i.incident_id, count(*) AS cases, count(DISTINCT c.platform) AS platforms,
               string_agg(DISTINCT c.platform, ' ' ORDER BY c.platform) AS platform_names,
               string_agg(i.case_id::VARCHAR, ' ' ORDER BY i.case_id) AS case_ids,
               string_agg(DISTINCT i.reason, ' ' ORDER BY i.reason) FILTER (i.reason <> 'first') AS matched_by
        FROM case_incidents i JOIN cases c USING (case_id)
        GROUP BY i.incident_id HAVING count(*) > 1
        ORDER BY cases DESC, i.incident_id LIMIT {int(limit)}
        """))
