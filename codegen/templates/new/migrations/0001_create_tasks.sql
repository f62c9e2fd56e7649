CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    owner_id TEXT NOT NULL,
    title TEXT NOT NULL,
    due TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX tasks_by_owner ON tasks (owner_id, due, id);
