-- Shared by the classifier and the review work: why a post scored as it did, and
-- the labels (analysts' imports and review decisions) that the next model learns from.

ALTER TABLE scores ADD COLUMN explanation JSON;   -- [{"term": ..., "weight": ...}, ...] that pushed the score up
ALTER TABLE scores ADD COLUMN categories JSON;    -- {"allegation": 0.1, "sexual": ..., "threat": ..., "insult": ..., "doxxing": ...}

CREATE SEQUENCE labels_id_seq;
CREATE TABLE labels (
    label_id   BIGINT PRIMARY KEY DEFAULT nextval('labels_id_seq'),
    text       VARCHAR NOT NULL,
    label      SMALLINT NOT NULL CHECK (label IN (0, 1)),
    category   VARCHAR,                  -- abuse category where known
    platform   VARCHAR,                  -- set when the label is about a stored post
    post_id    VARCHAR,
    source     VARCHAR NOT NULL,         -- 'import:<file name>' or 'review'
    added_by   VARCHAR NOT NULL,         -- who (user name, or the OS user for imports)
    added_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
