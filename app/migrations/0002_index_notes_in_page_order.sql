-- search_owned_notes pages by (created_at, id) within one owner: an index in
-- that order serves the ORDER BY without a sort (the tie-break on id was
-- sorted in a temporary b-tree on every call).
CREATE INDEX notes_by_owner_in_order ON notes (owner_id, created_at, id);
DROP INDEX notes_by_owner;
