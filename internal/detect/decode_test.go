package detect

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// renderEvent is the golden form of an event: its time, count and objects
// as the pattern evaluator will see them.
func renderEvent(ev *Event) string {
	b, err := json.Marshal(map[string]any{
		"time":    ev.Time.Format(time.RFC3339Nano),
		"count":   ev.Count,
		"objects": ev.Maps(),
	})
	if err != nil {
		return "render error: " + err.Error()
	}
	return string(b)
}

// TestDecodersGolden decodes every line of testdata/<format>.jsonl and
// compares the events (or the error) with testdata/<format>.golden.
func TestDecodersGolden(t *testing.T) {
	for _, f := range []Format{FormatECS, FormatZeek, FormatEVE, FormatSTIX} {
		t.Run(string(f), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", string(f)+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			dec, err := NewDecoder(f)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			sc := bufio.NewScanner(bytes.NewReader(in))
			for n := 1; sc.Scan(); n++ {
				fmt.Fprintf(&out, "line %d:", n)
				err := dec.Decode(sc.Bytes(), func(ev *Event) {
					fmt.Fprintf(&out, "\n  %s", renderEvent(ev))
				})
				if err != nil {
					fmt.Fprintf(&out, " error: %v", err)
				}
				out.WriteString("\n")
			}
			golden := filepath.Join("testdata", string(f)+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Errorf("decoded %s differs from %s (run go test -update to accept):\n%s", f, golden, diffLines(string(want), out.String()))
			}
		})
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "-%s\n+%s\n", a, c)
		}
	}
	return b.String()
}

// TestDecodersMapping checks the mapping table of docs/detection.md on
// chosen fields: each row is a line and a (type, path, value) the event
// must hold.
func TestDecodersMapping(t *testing.T) {
	tests := []struct {
		f         Format
		line      string
		typ, path string
		want      string
	}{
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","source":{"ip":"1.2.3.4"}}`, "ipv4-addr", "value", "1.2.3.4"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","source":{"ip":"1.2.3.4"}}`, "network-traffic", "src_ref.value", "1.2.3.4"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","destination.ip":"2001:db8::1"}`, "ipv6-addr", "value", "2001:db8::1"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","destination.ip":"2001:db8::1","destination.port":443}`, "network-traffic", "dst_port", "443"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","dns.question.name":"a.example"}`, "domain-name", "value", "a.example"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","url.full":"http://a.example/x"}`, "url", "value", "http://a.example/x"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","file.hash.sha256":"ab"}`, "file", "hashes.'SHA-256'", "ab"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","file.hash.sha512":"cd"}`, "file", "hashes.'SHA-512'", "cd"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","file.hash.md5":"ef"}`, "file", "hashes.MD5", "ef"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","source.ip":"1.2.3.4","user_agent.original":"UA"}`, "network-traffic", "extensions.'http-request-ext'.request_header.'User-Agent'", "UA"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","email.from.address":"a@b.c"}`, "email-message", "from_ref.value", "a@b.c"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","email.to.address":"a@b.c"}`, "email-addr", "value", "a@b.c"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","source.ip":"1.2.3.4","tls.server.ja3s":"j"}`, "network-traffic", "x_jointcell_ja3s", "j"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","tls.server.x509.subject.distinguished_name":"CN=x"}`, "x509-certificate", "subject", "CN=x"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","process.name":"a.exe"}`, "process", "image_ref.name", "a.exe"},
		{FormatECS, `{"@timestamp":"2024-01-01T00:00:00Z","user.name":"alice"}`, "user-account", "account_login", "alice"},
		{FormatZeek, `{"ts":1,"query":"q.example"}`, "domain-name", "value", "q.example"},
		{FormatZeek, `{"ts":1,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2"}`, "network-traffic", "dst_ref.value", "10.0.0.2"},
		{FormatZeek, `{"ts":1,"host":"h.example","uri":"/p"}`, "url", "value", "http://h.example/p"},
		{FormatZeek, `{"ts":1,"sha256":"ab"}`, "file", "hashes.'SHA-256'", "ab"},
		{FormatZeek, `{"ts":1,"fingerprint":"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"}`, "x509-certificate", "hashes.'SHA-1'", "aabbccddeeff00112233445566778899aabbccdd"},
		{FormatEVE, `{"timestamp":"2024-01-01T00:00:00.000000+0000","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","tls":{"sni":"s.example"}}`, "domain-name", "value", "s.example"},
		{FormatEVE, `{"timestamp":"2024-01-01T00:00:00.000000+0000","src_ip":"10.0.0.1","http":{"hostname":"h.example","url":"/p"}}`, "url", "value", "http://h.example/p"},
		{FormatEVE, `{"timestamp":"2024-01-01T00:00:00.000000+0000","fileinfo":{"sha256":"ab"}}`, "file", "hashes.'SHA-256'", "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+":"+tt.path, func(t *testing.T) {
			dec, _ := NewDecoder(tt.f)
			found := false
			var seen []string
			err := dec.Decode([]byte(tt.line), func(ev *Event) {
				for _, a := range atoms(ev) {
					seen = append(seen, a)
					if a == tt.typ+":"+tt.path+"="+tt.want {
						found = true
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if !found {
				t.Errorf("%s:%s = %q not in %q", tt.typ, tt.path, tt.want, seen)
			}
		})
	}
}

// atoms lists an event's (type:path=value) triples, references followed
// one hop, as the index reads them.
func atoms(ev *Event) []string {
	var out []string
	for _, o := range ev.Objects {
		for _, p := range o.Props {
			switch p.Kind {
			case KindString, KindStrings:
				out = append(out, o.Type+":"+p.Path+"="+p.Str)
			case KindInt:
				out = append(out, fmt.Sprintf("%s:%s=%d", o.Type, p.Path, p.Int))
			case KindRef, KindRefs:
				for _, q := range ev.Objects[p.Int].Props {
					if q.Kind == KindString {
						out = append(out, o.Type+":"+p.Path+"."+q.Path+"="+q.Str)
					}
				}
			}
		}
	}
	return out
}

// TestWalkerAgreesWithEncodingJSON checks the walker's verdict on JSON
// validity against encoding/json on tricky inputs.
func TestWalkerAgreesWithEncodingJSON(t *testing.T) {
	inputs := []string{
		`{}`, ` {"a":1} `, `{"a":}`, `{"a":1,}`, `{"a":[1,2,]}`, `{"a":"\u00e9\ud83d\ude00"}`,
		`{"a":"\ud800"}`, `{"a":"\x"}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":1e}`, `{"a":1e+5}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":"x"}x`, `{"a":{"b":{"c":[{"d":null}]}}}`, "{\"a\":\"\t\"}",
		`{"a" 1}`, `{1:2}`, `{"a":"b"`, `{"a":[}`, `{"a":"\u12"}`, `{"a":-0.5E-3}`,
	}
	var w walker
	for _, in := range inputs {
		err := w.walk(in, func([]byte, leaf) {})
		if got, want := err == nil, json.Valid([]byte(in)); got != want {
			t.Errorf("walk(%q) ok=%v, json.Valid=%v (err %v)", in, got, want, err)
		}
	}
	// Unescaping agrees with encoding/json.
	in := `{"a":"x\"\\\/\b\f\n\r\t\u0041\u00e9\ud83d\ude00\ud800z"}`
	var want map[string]string
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := w.walk(in, func(_ []byte, v leaf) { got = v.s }); err != nil {
		t.Fatal(err)
	}
	if got != want["a"] {
		t.Errorf("unescape = %q, want %q", got, want["a"])
	}
}

// TestDeepNestingRejected keeps hostile nesting from exhausting the stack.
func TestDeepNestingRejected(t *testing.T) {
	in := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	var w walker
	if err := w.walk(in, func([]byte, leaf) {}); err == nil {
		t.Fatal("deep nesting accepted")
	}
}
