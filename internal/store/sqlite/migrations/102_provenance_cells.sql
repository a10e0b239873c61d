-- Provenance rows named the cell that produced an object in full: a
-- 64-character key fingerprint (or peer:NAME for a TAXII server that signs
-- nothing), half of every row. Cells are few, so each is now stored once
-- in fed_cells and rows refer to it by number. The rows are half as long,
-- so fed_provenance has half the leaves, and a page of objects with random
-- ids (each insert lands on another leaf) changes and logs half as many.
CREATE TABLE fed_cells (
    id   INTEGER PRIMARY KEY,
    name TEXT    NOT NULL UNIQUE          -- fingerprint, or peer:NAME
);
INSERT INTO fed_cells (name) SELECT DISTINCT cell FROM fed_provenance ORDER BY cell;
CREATE TABLE fed_provenance_new (
    object_id TEXT    PRIMARY KEY,
    cell      INTEGER NOT NULL,           -- fed_cells.id
    peer      TEXT    NOT NULL,
    first_us  INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO fed_provenance_new (object_id, cell, peer, first_us)
    SELECT p.object_id, c.id, p.peer, p.first_us FROM fed_provenance p JOIN fed_cells c ON c.name = p.cell;
DROP TABLE fed_provenance;
ALTER TABLE fed_provenance_new RENAME TO fed_provenance;
