-- Review and takedown tracking: cases, their append-only event history, frozen
-- evidence, reports to platforms, the platforms' answers, re-check observations,
-- and the review app's users. A case's state is the `to_state` of its latest event
-- (view `case_state`): nothing is updated in place, so history cannot be hidden.

CREATE SEQUENCE cases_id_seq;
CREATE TABLE cases (
    case_id        BIGINT PRIMARY KEY DEFAULT nextval('cases_id_seq'),
    platform       VARCHAR NOT NULL,
    post_id        VARCHAR NOT NULL,
    origin         VARCHAR NOT NULL CHECK (origin IN ('flagged', 'member_report')),
    parent_case_id BIGINT,                       -- the case a RESURFACED post came from
    opened_at      TIMESTAMPTZ NOT NULL,
    opened_by      VARCHAR NOT NULL
);

CREATE SEQUENCE case_events_id_seq;
CREATE TABLE case_events (
    event_id    BIGINT PRIMARY KEY DEFAULT nextval('case_events_id_seq'),
    case_id     BIGINT NOT NULL,
    from_state  VARCHAR,                         -- NULL for the event that opens the case
    to_state    VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,                -- user name, or 'tagwatch' for automated moves
    occurred_at TIMESTAMPTZ NOT NULL,
    automated   BOOLEAN NOT NULL,
    note        VARCHAR
);

CREATE VIEW case_state AS
SELECT case_id, arg_max(to_state, event_id) AS state, max(occurred_at) AS state_since
FROM case_events GROUP BY case_id;

-- Frozen when a case is confirmed; never changed afterwards (evidence outlives the post).
CREATE TABLE evidence (
    case_id        BIGINT PRIMARY KEY,
    platform       VARCHAR NOT NULL,
    post_id        VARCHAR NOT NULL,
    url            VARCHAR,
    text           VARCHAR,
    hashtags       VARCHAR[],
    reply_count    BIGINT,
    share_count    BIGINT,
    like_count     BIGINT,
    view_count     BIGINT,
    created_at     TIMESTAMPTZ,                  -- when the author posted it
    first_seen_at  TIMESTAMPTZ,
    last_seen_at   TIMESTAMPTZ,
    content_json   VARCHAR NOT NULL,             -- the captured content, canonical JSON
    content_sha256 VARCHAR NOT NULL,             -- SHA-256 of content_json (UTF-8)
    model_version  VARCHAR,
    score          DOUBLE,
    category       VARCHAR NOT NULL,             -- abuse category
    target_role    VARCHAR,                      -- who is targeted, as a role (never a name)
    severity       VARCHAR,                      -- low | medium | high
    frozen_at      TIMESTAMPTZ NOT NULL,
    frozen_by      VARCHAR NOT NULL
);

CREATE SEQUENCE reports_id_seq;
CREATE TABLE reports (
    report_id   BIGINT PRIMARY KEY DEFAULT nextval('reports_id_seq'),
    case_id     BIGINT NOT NULL,
    channel     VARCHAR NOT NULL CHECK (channel IN ('in-app', 'form', 'helpline')),
    reference   VARCHAR NOT NULL,                -- the platform's (or helpline's) reference
    sent_at     TIMESTAMPTZ NOT NULL,
    recorded_by VARCHAR NOT NULL
);

CREATE SEQUENCE platform_answers_id_seq;
CREATE TABLE platform_answers (
    answer_id   BIGINT PRIMARY KEY DEFAULT nextval('platform_answers_id_seq'),
    case_id     BIGINT NOT NULL,
    report_id   BIGINT NOT NULL,                 -- the report it answers (the latest one)
    outcome     VARCHAR NOT NULL CHECK (outcome IN ('removed', 'no_violation', 'other')),
    text        VARCHAR NOT NULL,                -- the answer verbatim
    answered_at TIMESTAMPTZ NOT NULL,
    recorded_by VARCHAR NOT NULL
);

CREATE SEQUENCE rechecks_id_seq;
CREATE TABLE rechecks (
    recheck_id  BIGINT PRIMARY KEY DEFAULT nextval('rechecks_id_seq'),
    case_id     BIGINT NOT NULL,
    checked_at  TIMESTAMPTZ NOT NULL,
    url         VARCHAR NOT NULL,                -- what was asked
    http_status INTEGER,                         -- NULL when no answer came
    outcome     VARCHAR NOT NULL CHECK (outcome IN
                ('online', 'removed_by_platform', 'deleted_by_author', 'account_gone', 'error')),
    detail      VARCHAR                          -- the platform's error text, or why it failed
);

CREATE TABLE users (
    name          VARCHAR PRIMARY KEY,
    role          VARCHAR NOT NULL CHECK (role IN ('analyst', 'viewer')),
    password_hash VARCHAR NOT NULL,              -- scrypt$N$r$p$salt$hash (hashlib.scrypt)
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
