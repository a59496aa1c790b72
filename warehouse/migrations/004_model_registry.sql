-- The model registry: every trained model, what it learnt from, how it did on the fixed
-- held-out split, and which one scores new posts. The model files stay in the models
-- directory; `file_sha256` is checked before a file is loaded or promoted.

CREATE TABLE models (
    version          VARCHAR PRIMARY KEY,      -- <trained_at>-<data checksum>, e.g. 20240101T120000Z-0123abcd
    trained_at       TIMESTAMPTZ NOT NULL,
    datasets         JSON NOT NULL,            -- [{"name", "source", "rows", "positives", "sha256", "weight"}]
    data_sha256      VARCHAR NOT NULL,         -- over the datasets' names, checksums and weights
    held_out_sha256  VARCHAR NOT NULL,         -- of the held-out posts the metrics were measured on
    metrics          JSON NOT NULL,            -- held-out ROC-AUC, PR-AUC, F1, Brier... overall and by dataset
    threshold        DOUBLE NOT NULL,          -- operating threshold: score >= threshold is flagged
    file_path        VARCHAR NOT NULL,         -- the model file (skops)
    file_sha256      VARCHAR NOT NULL,
    promoted         BOOLEAN NOT NULL DEFAULT FALSE,  -- the model that scores new posts (at most one)
    promoted_at      TIMESTAMPTZ,              -- when it last became the promoted model
    decision         VARCHAR                   -- why it was (not) promoted, as `tagwatch train` said
);
