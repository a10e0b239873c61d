package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runPattern(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runPatternStdin(t, "", args...)
}

func runPatternStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb}, append([]string{"pattern"}, args...))
	return out.String(), errb.String(), code
}

func writePatternFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPatternValidateOne(t *testing.T) {
	out, _, code := runPattern(t, "validate", "[file:size = 1280]")
	if code != 0 || out != "PASS: [file:size = 1280]\n" {
		t.Errorf("valid: code %d out %q", code, out)
	}
	_, errs, code := runPattern(t, "validate", "[file:size = ]")
	if code != 1 || errs != "FAIL: Error found at line 1:13. mismatched input ']' expecting {IntNegLiteral, IntPosLiteral, FloatNegLiteral, FloatPosLiteral, HexLiteral, BinaryLiteral, StringLiteral, BoolLiteral, TimestampLiteral}\n" {
		t.Errorf("invalid: code %d stderr %q", code, errs)
	}
	if _, _, code := runPattern(t, "validate", "-v", "2.0", "[EXISTS a:b]"); code != 1 {
		t.Errorf("EXISTS accepted in 2.0: code %d", code)
	}
	if _, _, code := runPattern(t, "validate", "a", "b"); code != 2 {
		t.Errorf("two patterns: code %d", code)
	}
}

// TestPatternValidateFile pins validate-patterns -f output: every
// message of a failing line, a blank line failing twice, totals, exit 0.
func TestPatternValidateFile(t *testing.T) {
	f := writePatternFile(t, "p.txt", "[file:size = 1280]\nfile:size = 1\n\n[a:b = 1]\r\n[a:b = 1] AND\n[a:b = 1")
	out, _, code := runPattern(t, "validate", "-f", f)
	want := "\nPASS: [file:size = 1280]\n\n" +
		"FAIL: Error found at line 1:0. input is missing square brackets \n\n" +
		"FAIL: Error found at line 1:0. mismatched input 'file' expecting {'(', '['} \n\n" +
		"FAIL: Error found at line 1:0. input is missing square brackets \n\n" +
		"FAIL: Error found at line 2:0. mismatched input '<EOF>' expecting {'(', '['} \n\n" +
		"\nPASS: [a:b = 1]\n\n" +
		"FAIL: Error found at line 2:0. mismatched input '<EOF>' expecting {'(', '['} \n\n" +
		"FAIL: Error found at line 1:8. missing ']' at '<EOF>' \n\n" +
		"\nPASSED: 2  patterns\nFAILED: 4  patterns\n"
	if code != 0 || out != want {
		t.Errorf("code %d, out:\n%q\nwant:\n%q", code, out, want)
	}
	// The reference crashes (exit 1, no totals) on a negative index.
	f = writePatternFile(t, "c.txt", "[a:b = 1]\n[a:b[-1] = 1]\n[a:b = 2]\n")
	out, errs, code := runPattern(t, "validate", "--file", f)
	if code != 1 || out != "\nPASS: [a:b = 1]\n\n" || errs == "" {
		t.Errorf("crash: code %d out %q err %q", code, out, errs)
	}
	if _, _, code := runPattern(t, "validate", "-f", filepath.Join(t.TempDir(), "none")); code != 2 {
		t.Errorf("missing file: code %d", code)
	}
}

// TestPatternValidateStdin pins the prompt loop of validate-patterns
// without -f: it stops at end of input or at an empty line.
func TestPatternValidateStdin(t *testing.T) {
	out, _, code := runPatternStdin(t, "[a:b = 1]\n[a:b\n", "validate")
	want := "Enter a pattern to validate: \nPASS: [a:b = 1]\n" +
		"Enter a pattern to validate: FAIL: Error found at line 1:4. no viable alternative at input 'a:b' \n\n" +
		"Enter a pattern to validate: \nPASSED: 1  patterns\nFAILED: 1  patterns\n"
	if code != 0 || out != want {
		t.Errorf("code %d out\n%q\nwant\n%q", code, out, want)
	}
	out, _, _ = runPatternStdin(t, "[a:b = 1]\n\n[a:b = 2]\n", "validate")
	want = "Enter a pattern to validate: \nPASS: [a:b = 1]\nEnter a pattern to validate: \nPASSED: 1  patterns\nFAILED: 0  patterns\n"
	if out != want {
		t.Errorf("empty line: out %q", out)
	}
}

const bundles = `[{"type":"bundle","id":"bundle--1","objects":[
 {"type":"observed-data","id":"observed-data--1","first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:05Z","number_observed":1,"object_refs":["ipv4-addr--1"]},
 {"type":"ipv4-addr","id":"ipv4-addr--1","value":"10.1.2.3"}]}]`

const sdos20 = `[{"type":"observed-data","first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:05Z","number_observed":1,"objects":{"0":{"type":"ipv4-addr","value":"10.1.2.3"}}}]`

func TestPatternMatch(t *testing.T) {
	obs := writePatternFile(t, "obs.json", bundles)
	pats := writePatternFile(t, "p.txt", "[ipv4-addr:value = '10.1.2.3']\n\n# skipped\n  [ipv4-addr:value = 'é']  \n")
	out, _, code := runPattern(t, "match", "-p", pats, "-f", obs, "-s", "2.1")
	want := "\nMATCH:  [ipv4-addr:value = '10.1.2.3']\n\nNO MATCH:  [ipv4-addr:value = '\\xe9']\n"
	if code != 1 || out != want {
		t.Errorf("code %d out %q", code, out)
	}
	out, _, code = runPattern(t, "match", "-q", "-p", pats, "-f", obs, "--stix_version=2.1")
	if code != 1 || out != "\nNO MATCH:  [ipv4-addr:value = '\\xe9']\n" {
		t.Errorf("quiet: code %d out %q", code, out)
	}
	out, _, code = runPattern(t, "match", "-qq", "-p", pats, "-f", obs, "-s2.1")
	if code != 1 || out != "" {
		t.Errorf("very quiet: code %d out %q", code, out)
	}
	// Without -s the reference reads STIX 2.0 SDOs: bundles fail.
	if out, _, code = runPattern(t, "match", "-p", pats, "-f", obs); code != 2 || out != "" {
		t.Errorf("default version on bundles: code %d out %q", code, out)
	}
	sdo := writePatternFile(t, "sdo.json", sdos20)
	pats2 := writePatternFile(t, "p2.txt", "[ipv4-addr:value ISSUBSET '10.0.0.0/8']\n")
	out, _, code = runPattern(t, "match", "--pat", pats2, "--file", sdo)
	if code != 0 || out != "\nMATCH:  [ipv4-addr:value ISSUBSET '10.0.0.0/8']\n" {
		t.Errorf("2.0: code %d out %q", code, out)
	}
}

func TestPatternMatchErrors(t *testing.T) {
	obs := writePatternFile(t, "obs.json", bundles)
	tests := []struct {
		name, patterns, data string
		wantOut              string
	}{
		{"parse error", "[ipv4-addr:value = '10.1.2.3']\n[bad\n", bundles, "\nMATCH:  [ipv4-addr:value = '10.1.2.3']\n"},
		{"match error", "[ipv4-addr:value ISSUBSET 'fe80::/10']\n", bundles, ""},
		{"bad json", "[a:b = 1]\n", "[", ""},
		{"bad observed data", "[a:b = 1]\n", `[{"type":"bundle"}]`, ""},
	}
	for _, tt := range tests {
		pats := writePatternFile(t, "p.txt", tt.patterns)
		data := obs
		if tt.data != bundles {
			data = writePatternFile(t, "d.json", tt.data)
		}
		out, errs, code := runPattern(t, "match", "-p", pats, "-f", data, "-s", "2.1")
		if code != 2 || out != tt.wantOut || errs == "" {
			t.Errorf("%s: code %d out %q err %q", tt.name, code, out, errs)
		}
	}
	// Bad observed data is only an error once a pattern needs it; bad
	// JSON always is.
	empty := writePatternFile(t, "e.txt", "# nothing\n")
	bad := writePatternFile(t, "b.json", `[{"type":"bundle"}]`)
	if _, _, code := runPattern(t, "match", "-p", empty, "-f", bad, "-s", "2.1"); code != 0 {
		t.Errorf("no patterns: code %d", code)
	}
	notJSON := writePatternFile(t, "n.json", `{`)
	if _, _, code := runPattern(t, "match", "-p", empty, "-f", notJSON); code != 2 {
		t.Errorf("bad JSON, no patterns: code %d", code)
	}
	if _, errs, code := runPattern(t, "match", "-p", empty); code != 2 || !strings.Contains(errs, "-f/--file") {
		t.Errorf("missing -f: code %d %q", code, errs)
	}
}

// TestPatternValidateSession pins what one run of validate-patterns
// prints when set literal errors change the ANTLR runtime's cached
// expected set: the same pattern is reported differently the second time.
func TestPatternValidateSession(t *testing.T) {
	f := writePatternFile(t, "s.txt", "[a:b IN (1, 2 3)]\n[a:b IN (1, 2]\n[c:d IN ('x' 'y')] AND [e:f = 1]\n[a:b IN (1, 2 3)]\n")
	out, _, code := runPattern(t, "validate", "-f", f)
	want := "FAIL: Error found at line 1:14. extraneous input '3' expecting {',', ')'} \n\n" +
		"FAIL: Error found at line 1:13. missing ')' at ']' \n\n" +
		"FAIL: Error found at line 1:13. extraneous input ''y'' expecting {',', ')'} \n\n" +
		"FAIL: Error found at line 1:14. extraneous input '3' expecting {<EOF>, 'AND', 'OR', 'FOLLOWEDBY', ',', ')', ']'} \n\n" +
		"\nPASSED: 0  patterns\nFAILED: 4  patterns\n"
	if code != 0 || out != want {
		t.Errorf("code %d\n got %q\nwant %q", code, out, want)
	}
}

// TestPatternMatchEncoding reads files with a byte order mark as -e
// utf-8-sig does, and fails on it with the default encoding.
func TestPatternMatchEncoding(t *testing.T) {
	data := writePatternFile(t, "d.json", "\ufeff"+`[{"type":"observed-data","number_observed":1,"first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:00Z","objects":{"0":{"type":"x-t","a":1}}}]`)
	pats := writePatternFile(t, "p.txt", "[x-t:a = 1]\n")
	if out, _, code := runPattern(t, "match", "-p", pats, "-f", data, "-e", "utf-8-sig"); code != 0 || out != "\nMATCH:  [x-t:a = 1]\n" {
		t.Errorf("utf-8-sig: code %d out %q", code, out)
	}
	if _, _, code := runPattern(t, "match", "-p", pats, "-f", data); code != 2 {
		t.Errorf("BOM with utf8: code %d, want 2", code)
	}
}
