-- Two questions, two columns: `score` is the probability that a post is abusive (to anyone),
-- `staff_target` the probability that it is aimed at school staff. Until now the second lived
-- inside `categories` as a pseudo-category, where it outranked every real category (1.0 on any
-- post naming staff). Scores written before this migration are moved over; NULL where the
-- post could not be scored or the model computed no staff_target.

ALTER TABLE scores ADD COLUMN staff_target DOUBLE;

UPDATE scores
SET staff_target = TRY_CAST(categories->>'staff_target' AS DOUBLE),
    categories = json_merge_patch(categories, '{"staff_target": null}')
WHERE categories IS NOT NULL AND json_exists(categories, '$.staff_target');
