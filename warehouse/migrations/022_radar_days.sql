-- The radar's counts per day, kept by its refresh (warehouse/radar_days.py), so that its
-- windows read a few rows per day instead of every post of the window. Each row counts
-- DISTINCT posts (a post carrying two spellings of one tag counts once). Empty here: the
-- first refresh counts every day (its watchlist fingerprint differs). See docs/schema.md.

-- Posts per day first seen (UTC), canonical tag group, platform and day posted.
CREATE TABLE radar_days (
    day          DATE NOT NULL,               -- first_seen_at's day in UTC
    canonical    VARCHAR NOT NULL,            -- tag_matches.canonical
    platform     VARCHAR NOT NULL,
    posted       DATE NOT NULL,               -- coalesce(created_at, first_seen_at)::DATE (as tag_days)
    proposable   BOOLEAN NOT NULL,            -- the post carries the group by a tag matching nothing watched
    posts        BIGINT NOT NULL,
    focus_posts  BIGINT NOT NULL              -- ... flagged by their latest score or carrying a banned/flagged tag
);

-- Per day first seen: every post (what tells a day changed), posts carrying a matched tag, focus posts.
CREATE TABLE radar_day_totals (
    day          DATE NOT NULL,
    all_posts    BIGINT NOT NULL,
    posts        BIGINT NOT NULL,
    focus_posts  BIGINT NOT NULL
);

-- How often each spelling of an unwatched group was used per day (a proposal's spelling).
CREATE TABLE radar_spellings (
    day        DATE NOT NULL,
    canonical  VARCHAR NOT NULL,
    spelling   VARCHAR NOT NULL,
    uses       BIGINT NOT NULL
);

-- Posts carrying a banned tag, per day first seen, banned tag, spelling, rule and platform
-- (the resurfaced alerts' variants), and per day, banned tag and platform (their totals).
CREATE TABLE radar_hits (
    day         DATE NOT NULL,
    tag         VARCHAR NOT NULL,             -- the banned tag (tag_matches.matched_tag)
    variant     VARCHAR NOT NULL,             -- the spelling carried
    method      VARCHAR,                      -- the rules that matched it
    platform    VARCHAR NOT NULL,
    first_seen  TIMESTAMPTZ NOT NULL,         -- the earliest first_seen_at among them
    posts       BIGINT NOT NULL,              -- distinct posts
    labelled    BIGINT NOT NULL,              -- rows (a post per spelling) with a latest label
    flagged     BIGINT NOT NULL               -- ... of which flagged
);

CREATE TABLE radar_hit_posts (
    day         DATE NOT NULL,
    tag         VARCHAR NOT NULL,
    platform    VARCHAR NOT NULL,
    first_seen  TIMESTAMPTZ NOT NULL,
    posts       BIGINT NOT NULL,              -- distinct posts (whatever spellings they carry)
    labelled    BIGINT NOT NULL,              -- posts with a latest label
    flagged     BIGINT NOT NULL
);

-- What the counts were made against: the watchlist's fingerprint and the latest score read.
CREATE TABLE radar_days_state (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    watch_fingerprint  VARCHAR NOT NULL,
    scored_until       TIMESTAMPTZ,
    refreshed_at       TIMESTAMPTZ NOT NULL
);
