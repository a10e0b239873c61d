package taxii

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// errorKind names one entry of the error catalogue. Every error response
// the server writes comes from this one table, so that the HTTP status, the
// title and the error_code of a kind never drift apart between handlers.
type errorKind int

const (
	errBadRequest errorKind = iota + 1
	errBadFilter
	errBadCursor
	errUnauthorized
	errForbidden
	errNotFound
	errMethodNotAllowed
	errNotAcceptable
	errTooLarge
	errUnsupportedMediaType
	errUnprocessable
	errInternal
)

// catalogueEntry is what a kind means on the wire.
type catalogueEntry struct {
	Status      int
	Code        string // error_code: common to every error of the kind (TAXII 2.1 §3.6.1)
	Title       string
	Description string // default description; a handler may give a more precise one
}

// catalogue is the error catalogue (docs/taxii.md reproduces it).
var catalogue = map[errorKind]catalogueEntry{
	errBadRequest:           {http.StatusBadRequest, "bad-request", "Bad request", "The request could not be understood."},
	errBadFilter:            {http.StatusBadRequest, "bad-filter", "Invalid filter", "A query parameter is malformed, repeated or out of range."},
	errBadCursor:            {http.StatusBadRequest, "bad-next", "Invalid next", "The next parameter was not issued by this server for this query."},
	errUnauthorized:         {http.StatusUnauthorized, "unauthorized", "Authentication required", "Send HTTP Basic (user name and API token) or a Bearer API token."},
	errForbidden:            {http.StatusForbidden, "forbidden", "Forbidden", "You do not have the right to do this on this resource."},
	errNotFound:             {http.StatusNotFound, "not-found", "Not found", "The resource does not exist or you may not see it."},
	errMethodNotAllowed:     {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "This endpoint does not support the request method."},
	errNotAcceptable:        {http.StatusNotAcceptable, "not-acceptable", "Not acceptable", "This server answers with application/taxii+json;version=2.1 only."},
	errTooLarge:             {http.StatusRequestEntityTooLarge, "too-large", "Request too large", "The request body exceeds the API root's max_content_length."},
	errUnsupportedMediaType: {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", "Send the envelope as application/taxii+json;version=2.1."},
	errUnprocessable:        {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable envelope", "The body is not a TAXII 2.1 envelope."},
	errInternal:             {http.StatusInternalServerError, "internal", "Internal server error", "The server failed to answer; the error has been logged."},
}

// Error is the TAXII error message (TAXII 2.1 §3.6.1). The client returns
// it (inside *HTTPError) and the server writes it. HTTPStatus is a string
// on the wire, as the specification requires.
type Error struct {
	Title           string         `json:"title"`
	Description     string         `json:"description,omitempty"`
	ErrorID         string         `json:"error_id,omitempty"`
	ErrorCode       string         `json:"error_code,omitempty"`
	HTTPStatus      string         `json:"http_status,omitempty"`
	ExternalDetails string         `json:"external_details,omitempty"`
	Details         map[string]any `json:"details,omitempty"`
}

// apiError is an error a handler returns to be written from the catalogue.
type apiError struct {
	kind        errorKind
	description string         // overrides the catalogue's when set
	details     map[string]any // optional, never object content
	cause       error          // logged, never sent
}

func (e *apiError) Error() string {
	c := catalogue[e.kind]
	msg := c.Title
	if e.description != "" {
		msg += ": " + e.description
	}
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *apiError) Unwrap() error { return e.cause }

// newError builds an apiError with a formatted description.
func newError(kind errorKind, format string, a ...any) *apiError {
	d := ""
	if format != "" {
		d = fmt.Sprintf(format, a...)
	}
	return &apiError{kind: kind, description: d}
}

// internalError wraps an unexpected failure; its cause is logged only.
func internalError(err error) *apiError {
	return &apiError{kind: errInternal, cause: err}
}

// message turns the error into its wire form with a fresh error_id, so that
// an operator can find the log line of a given response.
func (e *apiError) message() Error {
	c := catalogue[e.kind]
	d := c.Description
	if e.description != "" {
		d = e.description
	}
	return Error{
		Title:       c.Title,
		Description: d,
		ErrorID:     newUUID(),
		ErrorCode:   c.Code,
		HTTPStatus:  strconv.Itoa(c.Status),
		Details:     e.details,
	}
}

// writeError writes an error response. The content type is the TAXII one,
// like every response of the server (401s included); 401 also names every
// authentication scheme accepted (TAXII 2.1 §1.6.9, RFC 9110 §11.6.1).
func writeError(w http.ResponseWriter, e *apiError) Error {
	m := e.message()
	status := catalogue[e.kind].Status
	h := w.Header()
	h.Set("Content-Type", MediaTypeTAXII)
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="jointcell", Bearer realm="jointcell"`)
	}
	body, _ := json.Marshal(m)
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return m
}

// newUUID returns a random (version 4) UUID, RFC 9562 §5.4.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
