package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jointcell/jointcell/internal/stix"
)

// The TAXII 2.1 resources, shared by the server (which writes them) and the
// client (which reads them). Optional lists carry omitempty because I-JSON
// servers must not emit empty lists (TAXII 2.1 §3.1); required properties
// (can_read, the status counts) have no omitempty.

// Discovery is the discovery resource (TAXII 2.1 §4.1.1).
type Discovery struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

// APIRoot is the API root resource (TAXII 2.1 §4.2.1).
type APIRoot struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

// Collection is the collection resource (TAXII 2.1 §5.2.1); CanRead and
// CanWrite are as seen by the requesting client.
type Collection struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types,omitempty"`
}

// Collections is the collections resource (TAXII 2.1 §5.1.1).
type Collections struct {
	Collections []Collection `json:"collections,omitempty"`
}

// ManifestRecord is one entry of a manifest (TAXII 2.1 §5.3.1).
type ManifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

// Manifest is the manifest resource (TAXII 2.1 §5.3.1).
type Manifest struct {
	More    bool             `json:"more,omitempty"`
	Next    string           `json:"next,omitempty"`
	Objects []ManifestRecord `json:"objects,omitempty"`
}

// Envelope is the envelope resource (TAXII 2.1 §3.7). Objects are kept as
// their exact bytes.
type Envelope struct {
	More    bool              `json:"more,omitempty"`
	Next    string            `json:"next,omitempty"`
	Objects []json.RawMessage `json:"objects,omitempty"`
}

// Versions is the versions resource (TAXII 2.1 §5.8.1).
type Versions struct {
	More     bool     `json:"more,omitempty"`
	Next     string   `json:"next,omitempty"`
	Versions []string `json:"versions,omitempty"`
}

// Status is the status resource (TAXII 2.1 §4.3.1).
type Status struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"`
	RequestTimestamp string         `json:"request_timestamp,omitempty"`
	TotalCount       int            `json:"total_count"`
	SuccessCount     int            `json:"success_count"`
	Successes        []StatusDetail `json:"successes,omitempty"`
	FailureCount     int            `json:"failure_count"`
	Failures         []StatusDetail `json:"failures,omitempty"`
	PendingCount     int            `json:"pending_count"`
	Pendings         []StatusDetail `json:"pendings,omitempty"`
}

// StatusDetail is one entry of successes, failures or pendings (TAXII 2.1
// §4.3.1).
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// Status values (TAXII 2.1 §4.3.1).
const (
	StatusComplete = "complete"
	StatusPending  = "pending"
)

// errEnvelope is the cause of every envelope decoding failure.
var errEnvelope = errors.New("taxii: malformed envelope")

// EnvelopeError is a malformed envelope: Index is the position of the
// offending object, or -1 when the envelope itself is malformed.
type EnvelopeError struct {
	Index  int
	Reason string
}

func (e *EnvelopeError) Error() string {
	if e.Index < 0 {
		return "taxii: malformed envelope: " + e.Reason
	}
	return fmt.Sprintf("taxii: malformed envelope: object %d: %s", e.Index, e.Reason)
}

func (e *EnvelopeError) Unwrap() error { return errEnvelope }

// DecodeEnvelope decodes the body of an Add Objects request (TAXII 2.1
// §5.5): a JSON object whose objects property is a list of JSON objects.
// Each object keeps its exact bytes, which share body. Whether the objects
// are valid STIX is not checked here; that is a per-object failure in the
// status.
//
// The body is scanned once to check it is JSON and to find the objects,
// and each object once more by stix.DecodeObject; encoding/json is only
// asked to describe a body that is not JSON.
func DecodeEnvelope(body []byte) ([]stix.Object, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, &EnvelopeError{Index: -1, Reason: "the body is not a JSON object"}
	}
	elems, list, ok := envelopeObjects(body)
	if !ok {
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return nil, &EnvelopeError{Index: -1, Reason: jsonReason(err)}
		}
		// The scanner refused what encoding/json accepts: decode as
		// encoding/json does.
		return decodeEnvelopeSlow(body)
	}
	switch list {
	case objectsWrongType:
		return nil, &EnvelopeError{Index: -1, Reason: "objects must be a JSON list"}
	case objectsMissing:
		// A body without objects is most often a lone STIX object or a
		// bundle posted by mistake; saying so beats answering "0
		// objects added".
		return nil, &EnvelopeError{Index: -1, Reason: "the envelope has no objects list"}
	}
	objs := make([]stix.Object, len(elems))
	for i, raw := range elems {
		o, err := stix.DecodeObject(raw)
		if err != nil {
			return nil, &EnvelopeError{Index: i, Reason: "not a JSON object with STIX common properties"}
		}
		objs[i] = o
	}
	return objs, nil
}

// decodeEnvelopeSlow is DecodeEnvelope with encoding/json.
func decodeEnvelopeSlow(body []byte) ([]stix.Object, error) {
	var env struct {
		Objects *[]json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, &EnvelopeError{Index: -1, Reason: jsonReason(err)}
	}
	if env.Objects == nil {
		return nil, &EnvelopeError{Index: -1, Reason: "the envelope has no objects list"}
	}
	objs := make([]stix.Object, 0, len(*env.Objects))
	for i, raw := range *env.Objects {
		o, err := stix.DecodeObject(raw)
		if err != nil {
			return nil, &EnvelopeError{Index: i, Reason: "not a JSON object with STIX common properties"}
		}
		objs = append(objs, o)
	}
	return objs, nil
}

// jsonReason describes a JSON error without echoing the input.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Sprintf("%s must be a JSON %s", te.Field, jsonKind(te.Type.Kind().String()))
	default:
		return "invalid JSON"
	}
}

func jsonKind(k string) string {
	switch k {
	case "slice":
		return "list"
	case "struct", "map":
		return "object"
	default:
		return k
	}
}
