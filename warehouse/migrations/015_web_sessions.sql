-- Review-app sessions, kept here so that they can be ended: by logging out, by a password
-- change or removal of the user (`tagwatch user passwd/remove`, another process than the
-- web app), and by the idle and absolute time-outs. The cookie carries a random token;
-- only its SHA-256 is stored, so a copy of the warehouse does not hold live sessions.
CREATE TABLE web_sessions (
    token_hash   VARCHAR PRIMARY KEY,
    user_name    VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    ended_at     TIMESTAMPTZ,
    end_reason   VARCHAR                      -- logout, password changed, user removed, timed out
);
