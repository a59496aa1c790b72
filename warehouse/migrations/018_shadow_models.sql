-- Shadow models: a candidate model from the registry scores every new post beside the model
-- in use, without acting. Its scores are kept here, apart from `scores`, so that they never
-- reach the flagged list, the review queue or the cases (which all read `scores`).
-- `tagwatch models shadow VERSION` starts one, `--stop` ends it; `tagwatch models compare`
-- measures both models on the posts reviewers decided since it started. At most one runs.

CREATE SEQUENCE shadow_runs_id_seq;
CREATE TABLE shadow_runs (
    shadow_id        BIGINT PRIMARY KEY DEFAULT nextval('shadow_runs_id_seq'),
    model_version    VARCHAR NOT NULL,         -- the candidate (a version in `models`)
    baseline_version VARCHAR,                  -- the model in use when the shadow started
    started_at       TIMESTAMPTZ NOT NULL,
    started_by       VARCHAR NOT NULL,
    stopped_at       TIMESTAMPTZ,              -- NULL while it runs
    stopped_by       VARCHAR,
    stop_reason      VARCHAR                   -- 'stopped by hand', 'promoted', ...
);

CREATE TABLE shadow_scores (
    platform      VARCHAR NOT NULL,
    post_id       VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,            -- the candidate that scored it
    score         DOUBLE,                      -- NULL: the post could not be scored
    label         BOOLEAN,                     -- score >= the candidate's threshold: it would flag
    staff_target  DOUBLE,
    scored_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (platform, post_id, model_version)
);
