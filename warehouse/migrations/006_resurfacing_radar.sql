-- The resurfacing radar: analysts' synonyms per watched tag, how every observed tag
-- matches the watchlist, and the new tags proposed from co-occurrence. See docs/schema.md.

CREATE TABLE watchlist_synonyms (
    tag       VARCHAR NOT NULL,               -- the watched tag
    synonym   VARCHAR NOT NULL,               -- lower-case, without '#'
    added_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tag, synonym)
);

-- One row per distinct tag seen in posts.hashtags; recomputed when the watchlist changes.
CREATE TABLE tag_matches (
    tag          VARCHAR PRIMARY KEY,         -- as stored in posts.hashtags
    canonical    VARCHAR NOT NULL,            -- the watched tag it matched, else its normalised key
    matched_tag  VARCHAR,                     -- NULL: matches nothing on the watchlist
    method       VARCHAR,                     -- the rules that matched (radar.match)
    watch_fingerprint VARCHAR NOT NULL,       -- the watchlist + synonyms it was matched against
    matched_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE tag_proposals (
    tag            VARCHAR PRIMARY KEY,       -- canonical key of the proposed tag
    spelling       VARCHAR NOT NULL,          -- its most frequent spelling (what accept watches)
    status         VARCHAR NOT NULL CHECK (status IN ('proposed', 'accepted', 'rejected')),
    posts          INTEGER,                   -- posts carrying it in the last window
    support        INTEGER,                   -- ... of which flagged or carrying a banned/flagged tag
    lift           DOUBLE,                    -- P(focus | tag) / P(focus) in that window
    previous_posts INTEGER,                   -- posts carrying it in the window before
    first_proposed_at TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    decided_at     TIMESTAMPTZ,
    decided_by     VARCHAR
);
