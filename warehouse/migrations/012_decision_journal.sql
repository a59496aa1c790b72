-- Decisions a reviewer sent while a load held the warehouse are kept in a journal beside
-- it (review/journal.py) and applied by the next writer. One row per journal entry, written
-- in the same transaction as the decision itself, so an entry is applied at most once and the
-- warehouse records what became of each (applied, or refused and why).
CREATE TABLE journal_applied (
    entry_id    VARCHAR PRIMARY KEY,       -- the journal entry (a UUID)
    action      VARCHAR NOT NULL,          -- review | report | answer | move
    case_id     BIGINT NOT NULL,
    actor       VARCHAR NOT NULL,
    decided_at  TIMESTAMPTZ NOT NULL,      -- when the reviewer sent it (the event's time)
    applied_at  TIMESTAMPTZ NOT NULL,
    outcome     VARCHAR NOT NULL CHECK (outcome IN ('applied', 'refused')),
    detail      VARCHAR                    -- why it was refused (the case moved meanwhile, ...)
);
