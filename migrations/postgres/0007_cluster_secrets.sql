-- Secrets the processes of a cluster share through the database alone (the system worker's
-- token when authorization is on).
CREATE TABLE cluster_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
