-- Schools become records with ids; contacts and submissions are attached by id.
-- A school's identity was its free-text name, so a second contact typed with an extra
-- space ("Gamma  School") was joined to Gamma School and saw its reports. Now a new
-- contact either names a new school (refused when it reads the same as one that exists)
-- or is attached to an existing one by its id. The name columns stay as the name shown.
CREATE SEQUENCE schools_id_seq;
CREATE TABLE schools (
    school_id  BIGINT PRIMARY KEY DEFAULT nextval('schools_id_seq'),
    name       VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO schools (name)
SELECT name FROM (SELECT school AS name FROM users WHERE school IS NOT NULL
                  UNION SELECT school FROM intake_submissions
                  UNION SELECT school FROM school_digests) ORDER BY name;

ALTER TABLE users ADD COLUMN school_id BIGINT;
UPDATE users SET school_id = s.school_id FROM schools s WHERE s.name = users.school;
ALTER TABLE intake_submissions ADD COLUMN school_id BIGINT;
UPDATE intake_submissions SET school_id = s.school_id FROM schools s WHERE s.name = intake_submissions.school;
ALTER TABLE school_digests ADD COLUMN school_id BIGINT;
UPDATE school_digests SET school_id = s.school_id FROM schools s WHERE s.name = school_digests.school;

-- The schools behind each case, by id: one row per (case, school), first report first.
DROP VIEW case_requesters;
CREATE VIEW case_requesters AS
SELECT case_id, school_id, any_value(school) AS school, min(submitted_at) AS first_reported_at,
       count(*) AS submissions
FROM intake_submissions WHERE case_id IS NOT NULL GROUP BY case_id, school_id;
