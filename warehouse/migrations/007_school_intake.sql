-- School intake: school contacts (a role of their own, tied to one school), the URLs
-- they submit (each a submission with its own reference number), the cases those
-- submissions opened or joined (one post = one case, however many schools report it),
-- and the daily digest emails sent to each school.

-- users gains the 'school' role, the school a contact speaks for, and an email address
-- for digests. DuckDB cannot change a CHECK in place: the table is rebuilt.
CREATE TABLE users_new (
    name          VARCHAR PRIMARY KEY,
    role          VARCHAR NOT NULL CHECK (role IN ('analyst', 'viewer', 'school')),
    password_hash VARCHAR NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    school        VARCHAR,                       -- required for role 'school', NULL otherwise
    email         VARCHAR,                       -- where a school contact's digests go
    CHECK ((role = 'school') = (school IS NOT NULL))
);
INSERT INTO users_new (name, role, password_hash, created_at)
SELECT name, role, password_hash, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- cases gains the origin 'school_report'.
CREATE TABLE cases_new (
    case_id        BIGINT PRIMARY KEY DEFAULT nextval('cases_id_seq'),
    platform       VARCHAR NOT NULL,
    post_id        VARCHAR NOT NULL,
    origin         VARCHAR NOT NULL CHECK (origin IN ('flagged', 'member_report', 'school_report')),
    parent_case_id BIGINT,
    opened_at      TIMESTAMPTZ NOT NULL,
    opened_by      VARCHAR NOT NULL
);
INSERT INTO cases_new SELECT case_id, platform, post_id, origin, parent_case_id, opened_at, opened_by
FROM cases;
DROP TABLE cases;
ALTER TABLE cases_new RENAME TO cases;

-- One row per URL a school contact submitted. The reference number shown to the school
-- is derived from submission_id (TW-000042). case_id is NULL when the URL was not fetched
-- (unsupported, unconfigured or internal host, or unreachable): fetch_note says why.
CREATE SEQUENCE intake_submissions_id_seq;
CREATE TABLE intake_submissions (
    submission_id BIGINT PRIMARY KEY DEFAULT nextval('intake_submissions_id_seq'),
    submitted_by  VARCHAR NOT NULL,              -- the school contact's user name
    school        VARCHAR NOT NULL,
    url           VARCHAR NOT NULL,              -- as submitted (at most 2048 characters)
    description   VARCHAR,                       -- short, free text (at most 1000 characters)
    affected_role VARCHAR NOT NULL,              -- teacher | head | support_staff | other (never a name)
    submitted_at  TIMESTAMPTZ NOT NULL,
    case_id       BIGINT,
    outcome       VARCHAR NOT NULL CHECK (outcome IN ('opened', 'joined', 'not_fetched')),
    fetch_note    VARCHAR                        -- why it was not fetched (shown to the school)
);

-- The schools behind each case: one row per (case, school), first report first.
CREATE VIEW case_requesters AS
SELECT case_id, school, min(submitted_at) AS first_reported_at, count(*) AS submissions
FROM intake_submissions WHERE case_id IS NOT NULL GROUP BY case_id, school;

-- Digest emails: at most one per school per UTC day. last_event_id is the newest
-- case event the digest covered; the next digest starts after it.
CREATE SEQUENCE school_digests_id_seq;
CREATE TABLE school_digests (
    digest_id     BIGINT PRIMARY KEY DEFAULT nextval('school_digests_id_seq'),
    school        VARCHAR NOT NULL,
    sent_on       DATE NOT NULL,
    sent_at       TIMESTAMPTZ NOT NULL,
    recipients    VARCHAR[] NOT NULL,
    last_event_id BIGINT NOT NULL,
    changes       INTEGER NOT NULL,
    UNIQUE (school, sent_on)
);
