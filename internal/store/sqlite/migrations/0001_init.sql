-- The first schema of a cell database. Timestamps are integer microseconds
-- since the Unix epoch, UTC, so that they compare as instants; STIX strings
-- are kept exactly as received next to them for output.

CREATE TABLE collections (
    pk            INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    alias         TEXT    UNIQUE,            -- NULL when the collection has none
    title         TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    read_by       TEXT    NOT NULL,          -- JSON array of reader keys
    write_by      TEXT    NOT NULL,          -- JSON array of reader keys
    created_us    INTEGER NOT NULL,
    last_added_us INTEGER NOT NULL DEFAULT 0 -- the highest date_added ever assigned
);

-- One row per stored object version. version_us is the instant of modified,
-- else created, else (unversioned objects such as SCOs) date_added_us.
CREATE TABLE objects (
    seq            INTEGER PRIMARY KEY,
    coll           INTEGER NOT NULL,         -- collections.pk; checked once per batch, not per row
    object_id      TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    spec_version   TEXT    NOT NULL,         -- as received, '' when absent
    spec           TEXT    NOT NULL,         -- effective spec version, e.g. '2.1'
    spec_rank      INTEGER NOT NULL,         -- spec as major*1000+minor, for "latest"
    created        TEXT    NOT NULL,         -- as received, '' when absent
    modified       TEXT    NOT NULL,         -- as received, '' when absent
    versioned      INTEGER NOT NULL,         -- 0 when neither modified nor created
    sole           INTEGER NOT NULL,         -- 1 when it is the only stored version of its object
    version_us     INTEGER NOT NULL,
    date_added_us  INTEGER NOT NULL,
    revoked        INTEGER NOT NULL,
    created_by_ref TEXT    NOT NULL,
    markings       TEXT    NOT NULL,         -- JSON of the marking properties, '' when none
    audience       TEXT    NOT NULL,         -- JSON array of reader keys, for output
    origin         TEXT    NOT NULL,
    raw            BLOB    NOT NULL
);

-- Pages scan a collection in date_added order.
CREATE UNIQUE INDEX objects_added ON objects (coll, date_added_us);
-- A version is (id, version instant), immutable; also serves the per-object
-- version and spec-version selection.
CREATE UNIQUE INDEX objects_version ON objects (coll, object_id, version_us);
-- match[type] without scanning other types.
CREATE INDEX objects_type ON objects (coll, type, date_added_us);

-- The audience of each version, one row per reader key, so that visibility
-- is an indexed EXISTS. Rows are written and deleted with their version's
-- (no foreign key: checking one per reader key slows ingest noticeably).
CREATE TABLE audience (
    seq    INTEGER NOT NULL,
    reader TEXT    NOT NULL,
    PRIMARY KEY (seq, reader)
) WITHOUT ROWID;

CREATE TABLE statuses (
    id            TEXT    PRIMARY KEY,
    collection_id TEXT    NOT NULL,
    owner_user_id TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    request_us    INTEGER NOT NULL,
    total         INTEGER NOT NULL,
    successes     TEXT    NOT NULL,          -- JSON arrays of StatusDetail
    failures      TEXT    NOT NULL,
    pendings      TEXT    NOT NULL
);
CREATE INDEX statuses_request ON statuses (request_us);

CREATE TABLE organisations (
    name        TEXT    PRIMARY KEY,
    identity_id TEXT    NOT NULL,
    identity    BLOB    NOT NULL,
    created_us  INTEGER NOT NULL
);

CREATE TABLE users (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    org_name   TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    token_hash BLOB,                         -- NULL when the user has no token
    created_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX users_token ON users (token_hash) WHERE token_hash IS NOT NULL;

CREATE TABLE groups (
    name       TEXT PRIMARY KEY,
    marking_id TEXT NOT NULL,
    definition BLOB NOT NULL
);

CREATE TABLE group_members (
    group_name  TEXT    NOT NULL REFERENCES groups (name) ON DELETE CASCADE,
    identity_id TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (group_name, identity_id)
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
