-- Federation (package federation): peers, sync links with their
-- checkpoints, and which cell produced each object received from a peer.
-- Numbered from 100 so that the core schema keeps 1-99.

CREATE TABLE fed_peers (
    name       TEXT    PRIMARY KEY,
    url        TEXT    NOT NULL,
    user       TEXT    NOT NULL,
    token      BLOB    NOT NULL,         -- sealed with a key derived from cell.key
    ca_file    TEXT    NOT NULL,
    insecure   INTEGER NOT NULL,
    public_key BLOB,                     -- ed25519, NULL for a non-jointcell server
    identity   TEXT    NOT NULL,
    orgs       TEXT    NOT NULL,         -- JSON array of identity ids
    account    TEXT    NOT NULL,         -- local user the peer authenticates as
    created_us INTEGER NOT NULL
);

CREATE TABLE fed_links (
    peer            TEXT    NOT NULL REFERENCES fed_peers (name) ON DELETE CASCADE,
    direction       TEXT    NOT NULL,    -- 'pull' or 'push'
    local_coll      TEXT    NOT NULL,
    remote_coll     TEXT    NOT NULL,
    checkpoint      TEXT    NOT NULL DEFAULT '',
    last_success_us INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    last_error_us   INTEGER NOT NULL DEFAULT 0,
    synced          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (peer, direction, local_coll, remote_coll)
);

CREATE TABLE fed_provenance (
    object_id TEXT    PRIMARY KEY,
    cell      TEXT    NOT NULL,
    peer      TEXT    NOT NULL,
    first_us  INTEGER NOT NULL
);
