package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const detectIndicators = `{"type":"bundle","id":"bundle--6d2f1b7e-4b5a-4c63-9a57-2f8f0e0b5d01","objects":[
{"type":"indicator","spec_version":"2.1","id":"indicator--a1b2c3d4-0000-4000-8000-000000000001","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.7']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--a1b2c3d4-0000-4000-8000-000000000002","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[domain-name:value = 'bad.example.net']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"},
{"type":"indicator","spec_version":"2.1","id":"indicator--a1b2c3d4-0000-4000-8000-000000000003","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value ISSUBSET '203.0.113.0/24']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}
]}`

const detectEvents = `{"@timestamp":"2024-05-01T10:00:00Z","source":{"ip":"10.1.2.3"},"destination":{"ip":"198.51.100.7","port":443}}
{"@timestamp":"2024-05-01T10:00:01Z","source":{"ip":"10.1.2.3"},"destination":{"ip":"198.51.100.7","port":443}}
{"@timestamp":"2024-05-01T10:00:02Z","dns":{"question":{"name":"bad.example.net"}}}
{"@timestamp":"2024-05-01T10:00:03Z","source":{"ip":"10.1.2.3"},"destination":{"ip":"203.0.113.9","port":80}}
{"@timestamp":"2024-05-01T10:00:04Z","source":{"ip":"10.1.2.3"},"destination":{"ip":"192.0.2.1","port":80}}
this line is broken
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// parseLines decodes JSON lines and indexes sightings by indicator.
func parseLines(t *testing.T, out string) (objs []map[string]any, sightings map[string]map[string]any) {
	t.Helper()
	sightings = map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		objs = append(objs, m)
		if m["type"] == "sighting" {
			sightings[m["sighting_of_ref"].(string)] = m
		}
	}
	return objs, sightings
}

func checkSightings(t *testing.T, sightings map[string]map[string]any) {
	t.Helper()
	want := map[string]float64{
		"indicator--a1b2c3d4-0000-4000-8000-000000000001": 2,
		"indicator--a1b2c3d4-0000-4000-8000-000000000002": 1,
		"indicator--a1b2c3d4-0000-4000-8000-000000000003": 1,
	}
	if len(sightings) != len(want) {
		t.Fatalf("sightings for %d indicators, want %d: %v", len(sightings), len(want), sightings)
	}
	for id, n := range want {
		if s := sightings[id]; s == nil || s["count"] != n {
			t.Errorf("sighting of %s: %v, want count %v", id, s, n)
		}
	}
}

// TestDetectOfflineFile: the file source, output as JSON lines on stdout,
// summary on stderr with the malformed line counted.
func TestDetectOfflineFile(t *testing.T) {
	ind := writeFile(t, "ind.json", detectIndicators)
	ev := writeFile(t, "events.jsonl", detectEvents)
	var out, errb bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb},
		[]string{"detect", "--indicators", ind, "--events", ev, "--format", "ecs", "--identity", "identity--0a3e7a56-3d6a-4a5c-9f5e-ff2f6e0c1a11"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	_, s := parseLines(t, out.String())
	checkSightings(t, s)
	for _, want := range []string{"events read 5", "malformed 1", "matched 4", "sightings 3", "line=6"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestDetectOfflineStdin: the stdin source.
func TestDetectOfflineStdin(t *testing.T) {
	ind := writeFile(t, "ind.json", detectIndicators)
	var out, errb bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(detectEvents), stdout: &out, stderr: &errb},
		[]string{"detect", "--indicators", ind, "--events", "-", "--format", "ecs", "--quiet"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	_, s := parseLines(t, out.String())
	checkSightings(t, s)
}

// TestDetectBadInput: one-line errors and a non-zero exit.
func TestDetectBadInput(t *testing.T) {
	ind := writeFile(t, "ind.json", detectIndicators)
	tests := [][]string{
		{"detect", "--events", "-", "--format", "ecs"},
		{"detect", "--indicators", ind, "--events", "-", "--format", "csv"},
		{"detect", "--indicators", ind, "--format", "ecs"},
		{"detect", "--indicators", ind, "--events", "/nonexistent", "--format", "ecs"},
		{"detect", "--indicators", "/nonexistent", "--events", "-", "--format", "ecs"},
		{"detect", "--indicators", ind, "--events", "-", "--format", "ecs", "--identity", "org--x"},
	}
	for _, args := range tests {
		var out, errb bytes.Buffer
		code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, args)
		if code == 0 {
			t.Errorf("%v: exit 0", args)
		}
		if lines := strings.Count(strings.TrimSpace(errb.String()), "\n"); lines != 0 || !strings.HasPrefix(errb.String(), "jointcell: detect") {
			t.Errorf("%v: want one line, got %q", args, errb.String())
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer is a bytes.Buffer safe for the command's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestDetectHTTPSource: events POSTed to /events; a line over the bound
// answers 413; the sightings are flushed when the command stops.
func TestDetectHTTPSource(t *testing.T) {
	ind := writeFile(t, "ind.json", detectIndicators)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb},
			[]string{"detect", "--indicators", ind, "--listen", addr, "--format", "ecs", "--max-line", "4096"})
	}()
	url := "http://" + addr + "/events"
	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		resp, err = http.Post(url, "application/x-ndjson", strings.NewReader(detectEvents))
		if err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"events":5`) || !strings.Contains(string(body), `"malformed":1`) {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	big := `{"@timestamp":"2024-05-01T10:00:00Z","message":"` + strings.Repeat("x", 5000) + `"}` + "\n"
	resp, err = http.Post(url, "application/x-ndjson", strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("long line: %d, want 413", resp.StatusCode)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	_, s := parseLines(t, out.String())
	checkSightings(t, s)
}

// fakeCell is a TAXII-ish server: indicators to read, a sightings
// collection that fails while down is set.
type fakeCell struct {
	mu       sync.Mutex
	down     int // POSTs still to fail
	received []map[string]any
	posts    int
}

func (c *fakeCell) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	taxiiJSON := "application/taxii+json;version=2.1"
	mux.HandleFunc("GET /api/collections/ind/objects/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", taxiiJSON)
		var env struct {
			Objects []json.RawMessage `json:"objects"`
		}
		if err := json.Unmarshal([]byte(detectIndicators), &env); err != nil {
			t.Error(err)
		}
		if r.URL.Query().Get("added_after") != "" {
			_, _ = w.Write([]byte(`{}`))
			return
		}
		w.Header().Set("X-TAXII-Date-Added-First", "2024-01-01T00:00:00.000000Z")
		w.Header().Set("X-TAXII-Date-Added-Last", "2024-01-01T00:00:00.000000Z")
		_ = json.NewEncoder(w).Encode(map[string]any{"objects": env.Objects})
	})
	mux.HandleFunc("POST /api/collections/sight/objects/", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.posts++
		w.Header().Set("Content-Type", taxiiJSON)
		if c.down > 0 {
			c.down--
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"title":"down for maintenance"}`))
			return
		}
		var env struct {
			Objects []map[string]any `json:"objects"`
		}
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			w.WriteHeader(http.StatusUnprocessableEntity)
			return
		}
		c.received = append(c.received, env.Objects...)
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": "2d086da7-4bdc-4f91-900e-d77486753710", "status": "complete",
			"total_count": len(env.Objects), "success_count": len(env.Objects), "failure_count": 0, "pending_count": 0})
	})
	return mux
}

func (c *fakeCell) sightings() map[string]map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]any{}
	for _, o := range c.received {
		if o["type"] == "sighting" {
			out[o["sighting_of_ref"].(string)] = o
		}
	}
	return out
}

// TestDetectOnlineCellGoesAway: indicators come from the cell over TAXII;
// the cell refuses the first posts, then comes back: no sighting is lost.
func TestDetectOnlineCellGoesAway(t *testing.T) {
	cell := &fakeCell{down: 3}
	srv := httptest.NewServer(cell.handler(t))
	defer srv.Close()
	ev := writeFile(t, "events.jsonl", detectEvents)
	var out, errb syncBuffer
	code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb},
		[]string{"detect", "--server", srv.URL + "/api/", "--collection", "ind", "--sightings-collection", "sight",
			"--events", ev, "--format", "ecs", "--drain-timeout", "20s"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	checkSightings(t, cell.sightings())
	if cell.posts < 4 {
		t.Errorf("%d posts; the first three should have failed", cell.posts)
	}
}

// TestDetectSpoolSurvivesRestart: a cell that stays down; the sightings
// are spooled; the next run, with the cell back, delivers them.
func TestDetectSpoolSurvivesRestart(t *testing.T) {
	cell := &fakeCell{down: 1 << 30}
	srv := httptest.NewServer(cell.handler(t))
	defer srv.Close()
	ev := writeFile(t, "events.jsonl", detectEvents)
	empty := writeFile(t, "empty.jsonl", "")
	spool := filepath.Join(t.TempDir(), "spool.jsonl")
	args := func(events string) []string {
		return []string{"detect", "--server", srv.URL + "/api/", "--collection", "ind", "--sightings-collection", "sight",
			"--events", events, "--format", "ecs", "--spool", spool, "--drain-timeout", "300ms", "--quiet"}
	}
	var errb syncBuffer
	if code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb}, args(ev)); code != 0 {
		t.Fatalf("first run exit %d: %s", code, errb.String())
	}
	if len(cell.sightings()) != 0 {
		t.Fatal("cell was down but received sightings")
	}
	if st, err := os.Stat(spool); err != nil || st.Size() == 0 {
		t.Fatalf("spool empty after a failed delivery: %v", err)
	}
	cell.mu.Lock()
	cell.down = 0
	cell.mu.Unlock()
	if code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &errb}, args(empty)); code != 0 {
		t.Fatalf("second run exit %d: %s", code, errb.String())
	}
	checkSightings(t, cell.sightings())
	if st, err := os.Stat(spool); err != nil || st.Size() != 0 {
		t.Fatalf("spool not emptied after delivery: %v %v", st, err)
	}
}
