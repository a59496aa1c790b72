-- Resurfaced content: the same text (by hash) as a case verified offline, seen again under a
-- new post id, opens a child case (origin 'resurfaced', parent_case_id = that case) in
-- RESURFACED. DuckDB cannot change a CHECK constraint in place, so `cases` is rebuilt with
-- the wider one; ids, rows and the id sequence are kept.

CREATE TABLE cases_009 (
    case_id        BIGINT PRIMARY KEY DEFAULT nextval('cases_id_seq'),
    platform       VARCHAR NOT NULL,
    post_id        VARCHAR NOT NULL,
    origin         VARCHAR NOT NULL CHECK (origin IN ('flagged', 'member_report', 'school_report', 'resurfaced')),
    parent_case_id BIGINT,                       -- the case a RESURFACED post came from
    opened_at      TIMESTAMPTZ NOT NULL,
    opened_by      VARCHAR NOT NULL
);
INSERT INTO cases_009 SELECT case_id, platform, post_id, origin, parent_case_id, opened_at, opened_by FROM cases;
DROP TABLE cases;
ALTER TABLE cases_009 RENAME TO cases;
