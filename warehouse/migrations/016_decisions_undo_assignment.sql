-- Review decisions as a reviewer makes them (confirm, dismiss or report; one case or many at
-- once), so the last one can be undone for a few minutes; and who a case is assigned to.
-- Nothing is deleted: an undo is a compensating event on each case (the reverse move), and
-- the report and training label the decision wrote are marked withdrawn, never removed.

CREATE SEQUENCE decisions_id_seq;
CREATE TABLE decisions (
    decision_id BIGINT PRIMARY KEY DEFAULT nextval('decisions_id_seq'),
    action      VARCHAR NOT NULL CHECK (action IN ('confirm', 'dismiss', 'report', 'undo')),
    actor       VARCHAR NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL,
    undoes      BIGINT                     -- for an undo: the decision it undid
);

-- One row per case a decision moved: the event it appended and what it wrote beside it.
CREATE TABLE decision_cases (
    decision_id BIGINT NOT NULL,
    case_id     BIGINT NOT NULL,
    event_id    BIGINT NOT NULL,           -- the move (for an undo: the compensating move)
    report_id   BIGINT,                    -- the report a 'report' decision recorded
    label_id    BIGINT,                    -- the training label a review decision added
    undoes_event_id BIGINT,                -- for an undo: the move it reversed
    PRIMARY KEY (decision_id, case_id)
);

-- The moves an undo reversed: figures that count decisions leave them out.
CREATE VIEW undone_events AS
SELECT d.undoes_event_id AS event_id, u.decided_at AS undone_at, u.actor AS undone_by
FROM decision_cases d JOIN decisions u USING (decision_id)
WHERE d.undoes_event_id IS NOT NULL;

-- Set by an undo: the report was recorded by mistake / the label no longer stands.
ALTER TABLE reports ADD COLUMN withdrawn_at TIMESTAMPTZ;
ALTER TABLE labels ADD COLUMN withdrawn_at TIMESTAMPTZ;

-- Who is looking at a case (append-only; assignee NULL = unassigned). The latest row counts.
CREATE SEQUENCE case_assignments_id_seq;
CREATE TABLE case_assignments (
    assignment_id BIGINT PRIMARY KEY DEFAULT nextval('case_assignments_id_seq'),
    case_id     BIGINT NOT NULL,
    assignee    VARCHAR,                   -- a user name (an analyst), or NULL: unassigned
    assigned_by VARCHAR NOT NULL,
    assigned_at TIMESTAMPTZ NOT NULL
);

CREATE VIEW case_assignee AS
SELECT case_id, assignee, assigned_at, assigned_by FROM case_assignments
QUALIFY row_number() OVER (PARTITION BY case_id ORDER BY assignment_id DESC) = 1;
