// Package audit is the cell's append-only, tamper-evident log: a Merkle tree
// (RFC 6962 hashing) over every entry, with checkpoints signed by the cell's
// ed25519 key, and the verifier that recomputes it.
package audit

import "time"

// Entry is one audited event. It records who, what (ids, never content),
// when and the outcome.
type Entry struct {
	Time    time.Time `json:"time"`
	Actor   string    `json:"actor"`            // user name, "system", or "anonymous"
	Org     string    `json:"org,omitempty"`    // the actor's organisation
	Action  string    `json:"action"`           // see the Action constants
	Target  string    `json:"target,omitempty"` // e.g. a collection id, a user name
	IDs     []string  `json:"ids,omitempty"`    // object ids concerned
	Outcome string    `json:"outcome"`          // "ok", "denied" or "error"
	Detail  string    `json:"detail,omitempty"`
}

// Actions.
const (
	ActionAuthFail = "auth.fail"
	ActionRead     = "object.read"
	ActionWrite    = "object.write"
	ActionDelete   = "object.delete"
	ActionAdmin    = "admin"
	ActionPurge    = "purge"
	ActionReject   = "provenance.reject"
)

// Outcomes.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeError  = "error"
)
