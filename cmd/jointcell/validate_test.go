package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.json", `{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d","objects":[{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4","value":"198.51.100.3"}]}`)
	bad := write("bad.json", `[{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48Z","modified":"2016-04-06T20:03:48.000Z","pattern":"x","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}]`)
	should := write("should.json", `{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.3"}`)
	notJSON := write("not.json", `hello`)
	noID := write("noid.json", `{"type":"indicator"}`)
	badPattern := write("badpattern.json", `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '1.2.3.4'","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}`)

	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string // a line the output must contain
		err   string
	}{
		{"valid bundle", []string{good}, "", 0, "", ""},
		{"invalid list", []string{bad}, "", 1, bad + ": indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: [0].created: created must be precise to at least the millisecond", ""},
		{"should passes by default", []string{should}, "", 0, "", ""},
		{"should fails strict", []string{"--strict", should}, "", 1, should + ": ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd: id: (should) id", ""},
		{"stdin", []string{"-"}, `{"type":"mutex","id":"mutex--eba44954-d4e4-5d3b-814c-2b17dd8de300"}`, 1, "-: mutex--eba44954-d4e4-5d3b-814c-2b17dd8de300: name: name is required", ""},
		{"not json", []string{notJSON}, "", 1, notJSON + ": stix:", ""},
		{"invalid pattern", []string{badPattern}, "", 1, badPattern + ": indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f: pattern: pattern is not a valid STIX pattern", ""},
		{"no id", []string{noID}, "", 1, noID + ": : id: id is required", ""},
		{"missing file", []string{filepath.Join(dir, "nope.json")}, "", 1, "", "jointcell: validate: read"},
		{"several files", []string{good, bad}, "", 1, bad + ":", ""},
		{"no files", nil, "", 2, "", "usage: jointcell validate"},
		{"bad flag", []string{"--bogus", good}, "", 2, "", "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{stdin: strings.NewReader(tt.stdin), stdout: &stdout, stderr: &stderr}
			code := run(context.Background(), e, append([]string{"validate"}, tt.args...))
			if code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tt.code, stdout.String(), stderr.String())
			}
			if tt.out != "" && !strings.Contains(stdout.String(), tt.out) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tt.out)
			}
			if tt.out == "" && tt.code == 0 && stdout.Len() != 0 {
				t.Errorf("unexpected output %q", stdout.String())
			}
			if tt.err != "" && !strings.Contains(stderr.String(), tt.err) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.err)
			}
		})
	}
}
