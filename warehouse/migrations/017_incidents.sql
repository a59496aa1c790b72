-- Incidents: the same content seen as several cases (across platforms and re-uploads) is one
-- incident. review/incidents.py assigns every case one when it opens; cases that existed before
-- this migration are assigned by the next scoring run, `case open`, a school's report, or
-- `tagwatch case incidents --backfill` (the keys need Python: links, MinHash bands).

-- One row per case. incident_id is the case_id of the incident's first case.
CREATE TABLE case_incidents (
    case_id      BIGINT PRIMARY KEY,
    incident_id  BIGINT NOT NULL,
    matched_case BIGINT,                         -- the earlier case it was matched with; NULL: the first
    reason       VARCHAR NOT NULL CHECK (reason IN
                 ('first', 'resurfaced', 'text_hash', 'video', 'link', 'near_duplicate')),
    similarity   DOUBLE,                         -- near_duplicate: Jaccard of the 3-word shingle sets
    assigned_at  TIMESTAMPTZ NOT NULL
);

-- What a case's content is looked up by: hashes only (never the text or a link itself).
CREATE TABLE case_content_keys (
    case_id BIGINT NOT NULL,
    kind    VARCHAR NOT NULL CHECK (kind IN ('text_hash', 'video', 'link', 'band')),
    key     BIGINT NOT NULL                      -- the first 8 bytes of a SHA-256, as a signed integer
);
