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
	var out, errb bytes.Buffer
	code := run(context.Background(), &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb}, append([]string{"pattern"}, args...))
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
	if code != 1 || errs != "FAIL: Error found at line 1:13. mismatched input ']' expecting {IntPosLiteral, IntNegLiteral, FloatPosLiteral, FloatNegLiteral, StringLiteral, BinaryLiteral, HexLiteral, TimestampLiteral, BoolLiteral}\n" {
		t.Errorf("invalid: code %d stderr %q", code, errs)
	}
	if _, _, code := runPattern(t, "validate"); code == 0 {
		t.Error("missing argument accepted")
	}
}

func TestPatternValidateFile(t *testing.T) {
	f := writePatternFile(t, "p.txt", "[file:size = 1280]\nfile:size = 1\n[a:b = 1]")
	out, _, code := runPattern(t, "validate", "-f", f)
	want := "\nPASS: [file:size = 1280]\n\n" +
		"FAIL: Error found at line 1:0. input is missing square brackets \n\n" +
		"FAIL: Error found at line 1:0. mismatched input 'file' expecting {'(', '['} \n\n" +
		"\nPASS: [a:b = 1]\n" +
		"\nPASSED: 2  patterns\nFAILED: 1  patterns\n"
	if code != 0 || out != want {
		t.Errorf("code %d, out:\n%q\nwant:\n%q", code, out, want)
	}
}

const bundles = `[{"type":"bundle","id":"bundle--1","objects":[
 {"type":"observed-data","id":"observed-data--1","first_observed":"2020-01-01T00:00:00Z","last_observed":"2020-01-01T00:00:05Z","number_observed":1,"object_refs":["ipv4-addr--1"]},
 {"type":"ipv4-addr","id":"ipv4-addr--1","value":"10.1.2.3"}]}]`

func TestPatternMatch(t *testing.T) {
	obs := writePatternFile(t, "obs.json", bundles)
	pats := writePatternFile(t, "p.txt", "[ipv4-addr:value = '10.1.2.3']\n\n# skipped\n  [ipv4-addr:value = 'é']  \n")
	out, _, code := runPattern(t, "match", "-p", pats, "-f", obs, "-s", "2.1")
	want := "\nMATCH:  [ipv4-addr:value = '10.1.2.3']\n\nNO MATCH:  [ipv4-addr:value = '\\xe9']\n"
	if code != 1 || out != want {
		t.Errorf("code %d out %q", code, out)
	}
	// Without -s the bundle form selects STIX 2.1.
	pats2 := writePatternFile(t, "p2.txt", "[ipv4-addr:value ISSUBSET '10.0.0.0/8']\n")
	out, _, code = runPattern(t, "match", "-p", pats2, "-f", obs)
	if code != 0 || out != "\nMATCH:  [ipv4-addr:value ISSUBSET '10.0.0.0/8']\n" {
		t.Errorf("code %d out %q", code, out)
	}
	out, _, code = runPattern(t, "match", "-q", "-p", pats, "-f", obs, "-s", "2.1")
	if code != 1 || out != "\nNO MATCH:  [ipv4-addr:value = '\\xe9']\n" {
		t.Errorf("quiet: code %d out %q", code, out)
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
	// Bad observed data is only an error once a pattern needs it.
	empty := writePatternFile(t, "e.txt", "# nothing\n")
	bad := writePatternFile(t, "b.json", `[{"type":"bundle"}]`)
	if _, _, code := runPattern(t, "match", "-p", empty, "-f", bad, "-s", "2.1"); code != 0 {
		t.Errorf("no patterns: code %d", code)
	}
	if _, _, code := runPattern(t, "match", "-p", empty); code != 2 {
		t.Errorf("missing -f: code %d", code)
	}
}
