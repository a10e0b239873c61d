package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"
)

// boundFilter is the part of a query that a next cursor binds: a page
// reached through next answers exactly the query of the first page.
type boundFilter struct {
	AddedAfter   int64    `json:"a,omitempty"` // unix microseconds, 0 when absent
	IDs          []string `json:"i,omitempty"`
	Types        []string `json:"t,omitempty"`
	Versions     []string `json:"v,omitempty"`
	SpecVersions []string `json:"s,omitempty"`
}

func (b boundFilter) equal(o boundFilter) bool {
	return b.AddedAfter == o.AddedAfter && slices.Equal(b.IDs, o.IDs) && slices.Equal(b.Types, o.Types) &&
		slices.Equal(b.Versions, o.Versions) && slices.Equal(b.SpecVersions, o.SpecVersions)
}

// query returns the bound filter as a query (without limit and next).
func (b boundFilter) query() query {
	q := query{IDs: b.IDs, Types: b.Types, Versions: b.Versions, SpecVersions: b.SpecVersions}
	if b.AddedAfter != 0 {
		q.AddedAfter = time.UnixMicro(b.AddedAfter).UTC()
	}
	return q
}

// cursor is the content of a next token. The design (see docs/taxii.md) is
// stateless: the token carries the collection, the endpoint (with the
// object id for the per-object endpoints), the filter and the date_added
// of the last version of the page it continues. Because date_added is
// strictly increasing per collection, "strictly after Last" resumes exactly
// where the page ended, with no skip and no repeat, even when thousands of
// versions arrived in one POST. An HMAC-SHA256 under the cell's cursor key
// makes the token tamper-proof, so it never needs to expire and cannot be
// edited to widen a query. It grants nothing: authorisation is checked
// again on every page.
type cursor struct {
	Collection string      `json:"c"`
	Endpoint   endpoint    `json:"e"`
	Object     string      `json:"o,omitempty"`
	Filter     boundFilter `json:"f"`
	Last       int64       `json:"l"`           // unix microseconds of the last date_added served
	Limit      int         `json:"n,omitempty"` // the page size asked for, kept when next comes alone
}

var errBadCursorToken = errors.New("taxii: next was not issued by this server")

// encodeCursor signs a cursor into an opaque URL-safe token:
// base64url(JSON) "." base64url(HMAC-SHA256(key, JSON)).
func encodeCursor(key []byte, c cursor) string {
	payload, _ := json.Marshal(c)
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// decodeCursor verifies and decodes a token from encodeCursor.
func decodeCursor(key []byte, token string) (cursor, error) {
	var c cursor
	p, s, ok := strings.Cut(token, ".")
	if !ok || len(token) > 64<<10 {
		return c, errBadCursorToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return c, errBadCursorToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return c, errBadCursorToken
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return c, errBadCursorToken
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, errBadCursorToken
	}
	return c, nil
}
