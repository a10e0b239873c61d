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

-- Audience sets. Every stored version carries its audience (the reader keys
-- allowed to see it); most versions share one of a handful of audiences, so
-- each distinct set (sorted, without duplicates) is stored once and versions
-- reference it by id. Sets are never changed or deleted, so an id always
-- means the same set and can be cached.
CREATE TABLE audiences (
    id      INTEGER PRIMARY KEY,
    readers TEXT    NOT NULL UNIQUE          -- JSON array of reader keys, sorted
);

-- Which audience sets a reader key belongs to: the sets visible to a
-- principal are those of its reader keys.
CREATE TABLE audience_readers (
    reader   TEXT    NOT NULL,
    audience INTEGER NOT NULL,               -- audiences.id
    PRIMARY KEY (reader, audience)
) WITHOUT ROWID;

-- One row per stored object version. version_us is the instant of modified,
-- else created, else (unversioned objects such as SCOs) date_added_us. The
-- columns are what queries filter and sort on; what a page only returns
-- (spec_version, created, modified, created_by_ref, origin, revoked and
-- the marking properties) is packed into meta, one value to read per row
-- (see packMeta in objects.go), and raw comes last so that reading the
-- other columns of a large object does not follow its overflow pages.
CREATE TABLE objects (
    seq            INTEGER PRIMARY KEY,
    coll           INTEGER NOT NULL,         -- collections.pk; checked once per batch, not per row
    object_id      TEXT    NOT NULL,
    type           TEXT    NOT NULL,
    spec           TEXT    NOT NULL,         -- effective spec version, e.g. '2.1'
    spec_rank      INTEGER NOT NULL,         -- spec as major*1000+minor, for "latest"
    versioned      INTEGER NOT NULL,         -- 0 when neither modified nor created
    sole           INTEGER NOT NULL,         -- 1 when it is the only stored version of its object
    version_us     INTEGER NOT NULL,
    date_added_us  INTEGER NOT NULL,
    aud            INTEGER NOT NULL,         -- audiences.id (no foreign key: checked once per batch)
    meta           TEXT    NOT NULL,
    raw            BLOB    NOT NULL
);

-- Pages scan a collection in date_added order; aud is in the index so that
-- invisible versions are skipped without reading their rows.
CREATE INDEX objects_added ON objects (coll, date_added_us, aud);
-- Pages of a reader who sees a small part of a collection merge, in
-- date_added order, the versions of each audience set it may see.
CREATE INDEX objects_aud ON objects (coll, aud, date_added_us);
-- The versions of an object, for the batch duplicate check and the
-- per-object version and spec-version selection (covering it). A version
-- is (id, version instant) and immutable: AddVersions checks each batch
-- against the stored versions of its ids under the write lock.
CREATE INDEX objects_version ON objects (coll, object_id, version_us, spec_rank, aud);
-- match[type] without scanning other types.
CREATE INDEX objects_type ON objects (coll, type, date_added_us, aud);

-- How many versions of each audience set a collection holds, so that a
-- query knows which sets a reader may see there and how selective they are.
CREATE TABLE collection_audiences (
    coll INTEGER NOT NULL,                   -- collections.pk
    aud  INTEGER NOT NULL,                   -- audiences.id
    n    INTEGER NOT NULL,
    PRIMARY KEY (coll, aud)
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
