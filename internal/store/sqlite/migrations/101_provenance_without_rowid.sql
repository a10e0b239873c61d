-- Provenance is looked up and inserted by object id only, a page of up to
-- 1000 rows at a time during federation catch-up. Keyed WITHOUT ROWID, each
-- row lives in the primary key's B-tree alone instead of a table plus an
-- index: one B-tree write per row instead of two.
CREATE TABLE fed_provenance_new (
    object_id TEXT    PRIMARY KEY,
    cell      TEXT    NOT NULL,
    peer      TEXT    NOT NULL,
    first_us  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO fed_provenance_new (object_id, cell, peer, first_us)
    SELECT object_id, cell, peer, first_us FROM fed_provenance;
DROP TABLE fed_provenance;
ALTER TABLE fed_provenance_new RENAME TO fed_provenance;
