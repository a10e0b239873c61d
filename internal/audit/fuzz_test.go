package audit

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzParseEntry feeds arbitrary lines to the entry parser: it must never
// panic, and whatever it accepts must be exactly what the writer would
// write for that entry at that position, so that parsing and writing can
// never disagree about the bytes a leaf hash covers.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{
		`{"seq":0,"time":"2026-03-01T12:00:01Z","actor":"alice","action":"object.read","outcome":"ok"}`,
		`{"seq":7,"time":"2026-03-01T12:00:01.5Z","actor":"bob","org":"org-a","action":"object.write","target":"c1","ids":["indicator--1","x"],"outcome":"denied","detail":"no \u003cright\u003e"}`,
		`{"seq":1,"time":"2026-03-01T13:00:01+01:00","actor":"a","action":"admin","outcome":"ok"}`,
		`{"seq":1,"time":"2026-03-01T12:00:01Z","actor":"a","action":"admin","outcome":"ok","extra":1}`,
		`{"time":"2026-03-01T12:00:01Z","seq":1,"actor":"a","action":"admin","outcome":"ok"}`,
		`{"seq":1, "time":"2026-03-01T12:00:01Z","actor":"a","action":"admin","outcome":"ok"}`,
		`{"seq":1,"time":"2026-03-01T12:00:01Z","actor":"\ufffd","action":"admin","ids":[],"outcome":"ok"}`,
		`{"seq":-1}`, `null`, `[]`, ``, `{"seq":1e3}`, "{\"seq\":1,\"actor\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		seq, e, err := ParseEntry(line)
		if err != nil {
			return
		}
		body, err := encodeEntryBody(e)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", line, err)
		}
		if again := appendLine(nil, seq, body); !bytes.Equal(again[:len(again)-1], line) {
			t.Fatalf("accepted %q, the writer writes %q", line, again)
		}
	})
}

// FuzzEncodeEntry checks the other direction: whatever an Entry holds,
// the line the writer makes parses back to the same entry.
func FuzzEncodeEntry(f *testing.F) {
	f.Add(uint64(0), int64(0), "alice", "object.read", "indicator--1", "plain")
	f.Add(uint64(1<<63), int64(1767225600123456789), "bad\xffutf8", "<&>", "\u2028", "\x00\t\n\"\\")
	f.Add(uint64(5), int64(-62135596800), "", "", "", "")
	f.Fuzz(func(t *testing.T, seq uint64, nanos int64, actor, action, id, detail string) {
		e := Entry{Time: time.Unix(0, nanos), Actor: actor, Action: action, IDs: []string{id, id}, Outcome: OutcomeOK, Detail: detail}
		body, err := encodeEntryBody(e)
		if err != nil {
			return // times json cannot write (years beyond 9999) are refused
		}
		line := appendLine(nil, seq, body)
		gotSeq, got, err := ParseEntry(line[:len(line)-1])
		if err != nil {
			t.Fatalf("the writer wrote %q, which the parser refuses: %v", line, err)
		}
		v := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
		if gotSeq != seq || !got.Time.Equal(e.Time) || got.Actor != v(actor) || got.Action != v(action) ||
			got.Detail != v(detail) || len(got.IDs) != 2 || got.IDs[1] != v(id) {
			t.Fatalf("round trip of %+v gave %+v", e, got)
		}
	})
}

// FuzzParseCheckpoint: never panics, and accepts only what MarshalJSON
// writes.
func FuzzParseCheckpoint(f *testing.F) {
	key := newKey(f)
	c := signCheckpoint(key, 42, leafDigest([]byte("x")), time.Date(2026, 3, 1, 12, 0, 0, 5, time.UTC))
	good, _ := c.MarshalJSON()
	f.Add(good)
	f.Add(bytes.Replace(good, []byte(`"tree_size":42`), []byte(`"tree_size":42.0`), 1))
	f.Add(bytes.ToUpper(good))
	f.Add([]byte(`{"tree_size":0,"root_hash":"","time":"2026-03-01T12:00:00Z","signature":""}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		c, err := ParseCheckpoint(line)
		if err != nil {
			return
		}
		again, err := c.MarshalJSON()
		if err != nil || !bytes.Equal(again, line) {
			t.Fatalf("accepted %q, which writes back as %q (%v)", line, again, err)
		}
		_ = c.Verify(pubOf(key))
	})
}
