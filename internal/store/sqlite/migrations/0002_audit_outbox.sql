-- Audit entries recorded while another process held the audit log: the
-- CLI, making a management change beside a running server, cannot append
-- to the log (one writer at a time), so it leaves the entry here, and the
-- server appends what waits here to the log in id order and deletes it
-- (internal/cell, RelayAuditOutbox).
CREATE TABLE audit_outbox (
    id    INTEGER PRIMARY KEY,
    entry BLOB NOT NULL                  -- audit.Entry as JSON
);
