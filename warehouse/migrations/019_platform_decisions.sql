-- The platform's decision, in the fields of the EU DSA statement-of-reasons database
-- (transparency.dsa.ec.europa.eu), recorded with an answer when the platform gives them;
-- NULL when it did not say. Values are the database's own constants (review/dsa.py checks them):
--   decision_ground      DECISION_GROUND_ILLEGAL_CONTENT | DECISION_GROUND_INCOMPATIBLE_CONTENT
--   category             STATEMENT_CATEGORY_... (e.g. STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH)
--   automated_detection  was the content found by automated means (the database's Yes / No)
--   automated_decision   AUTOMATED_DECISION_FULLY | _PARTIALLY | _NOT_AUTOMATED
--   application_date     the decision date: the day the restriction applies from
--   restriction          the strongest restriction: a decision_visibility value
--                        (DECISION_VISIBILITY_CONTENT_REMOVED, _DISABLED, _DEMOTED, ...), a
--                        decision_account value (DECISION_ACCOUNT_SUSPENDED, _TERMINATED), or
--                        NO_ACTION (tagwatch's own: the database records restrictions only)
ALTER TABLE platform_answers ADD COLUMN decision_ground VARCHAR;
ALTER TABLE platform_answers ADD COLUMN category VARCHAR;
ALTER TABLE platform_answers ADD COLUMN automated_detection BOOLEAN;
ALTER TABLE platform_answers ADD COLUMN automated_decision VARCHAR;
ALTER TABLE platform_answers ADD COLUMN application_date DATE;
ALTER TABLE platform_answers ADD COLUMN restriction VARCHAR;
