package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eEmail is a TLP:GREEN e-mail address posted by organisation a: personal
// data that the standard egress profile pseudonymises for readers outside a.
const e2eEmail = `{"type":"email-addr","spec_version":"2.1","id":"email-addr--2d77a846-6264-5d51-b586-e43822ea1ea3","value":"victim@bank-a.example","object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}`

// readOne returns the objects bob or alice reads from a collection.
func readObjects(t *testing.T, s *e2eServer, token, coll string) []json.RawMessage {
	t.Helper()
	r := s.expect(t, e2eReq{method: "GET", path: "/api/collections/" + coll + "/objects/", token: token}, 200)
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(r.body, &env); err != nil {
		t.Fatal(err)
	}
	return env.Objects
}

// TestServeRedaction checks that serve applies the standard egress profile
// by default (docs/privacy.md): the producer reads its bytes exactly, any
// other organisation reads a pseudonym; and that --redaction replaces it.
func TestServeRedaction(t *testing.T) {
	dir := t.TempDir()
	s := e2eStart(t, dir, "--http")
	st := e2eCommunity(t, s, dir)
	s.expect(t, e2eReq{method: "POST", path: "/api/collections/" + st.colls["shared"] + "/objects/", token: st.tokens["alice"],
		body: e2eEnvelope(json.RawMessage(e2eEmail))}, 202)

	own := readObjects(t, s, st.tokens["alice"], st.colls["shared"])
	if len(own) != 1 || string(own[0]) != e2eEmail {
		t.Fatalf("producer reads %s, want the bytes it posted", own)
	}
	other := readObjects(t, s, st.tokens["bob"], st.colls["shared"])
	if len(other) != 1 {
		t.Fatalf("bob reads %d objects, want 1", len(other))
	}
	if strings.Contains(string(other[0]), "victim") || !strings.Contains(string(other[0]), "pseudo-") {
		t.Errorf("bob reads %s, want the address pseudonymised", other[0])
	}
	s.stop(t)

	// An operator who turns redaction off says so in a file.
	cfg := filepath.Join(t.TempDir(), "redaction.json")
	if err := os.WriteFile(cfg, []byte(`{"default":"none"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s = e2eStart(t, dir, "--http", "--redaction", cfg)
	if got := readObjects(t, s, st.tokens["bob"], st.colls["shared"]); len(got) != 1 || string(got[0]) != e2eEmail {
		t.Errorf("with redaction off bob reads %s", got)
	}
	s.stop(t)

	// A typo stops the cell instead of silently sharing more.
	if err := os.WriteFile(cfg, []byte(`{"defualt":"none"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e2eRun("serve", "--data", dir, "--http", "--addr", "127.0.0.1:0", "--redaction", cfg)
	if code != 1 || !strings.Contains(errOut, "jointcell: serve: --redaction:") {
		t.Errorf("bad --redaction: exit %d, stderr %q", code, errOut)
	}
}

// TestServeRetention checks that serve runs the retention job from
// --retention and that every purge is audited.
func TestServeRetention(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "retention.json")
	if err := os.WriteFile(cfg, []byte(`{"interval":"200ms","collections":{"bulk":"1s"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := e2eStart(t, dir, "--http", "--retention", cfg)
	st := e2eCommunity(t, s, dir)
	s.expect(t, e2eReq{method: "POST", path: "/api/collections/" + st.colls["bulk"] + "/objects/", token: st.tokens["alice"],
		body: e2eEnvelope(e2eIndicator(e2eID(1), 1, 1))}, 202)
	if got := readObjects(t, s, st.tokens["alice"], st.colls["bulk"]); len(got) != 1 {
		t.Fatalf("before the maximum age alice reads %d objects, want 1", len(got))
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(readObjects(t, s, st.tokens["alice"], st.colls["bulk"])) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the version outlived its collection's maximum age")
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop(t)
	out := e2eCLI(t, "audit", "show", "--data", dir, "--action", "purge", "--json")
	if !strings.Contains(out, e2eID(1)) {
		t.Errorf("audit has no purge of %s:\n%s", e2eID(1), out)
	}

	if err := os.WriteFile(cfg, []byte(`{"collections":{"bulk":"soon"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e2eRun("serve", "--data", dir, "--http", "--addr", "127.0.0.1:0", "--retention", cfg)
	if code != 1 || !strings.Contains(errOut, "jointcell: serve: --retention:") {
		t.Errorf("bad --retention: exit %d, stderr %q", code, errOut)
	}
}
