package pattern

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The files testdata/reference/m*.txt hold matcher cases and v*.txt
// validator cases, restated from the test suites of the OASIS reference
// tools (cti-pattern-matcher, cti-pattern-validator) and from reading
// their implementation. Matcher files:
//
//	# comment
//	version 2.0|2.1          STIX version of the following data
//	data                     JSON observed data, until a line "end"
//	MATCH|NOMATCH|ERROR <pattern>
//
// ERROR is the reference tool's exit status 2 (any exception). Validator
// files hold "PASS <pattern>", "FAIL <pattern>" (each "=> <message
// prefix>" line after it gives one message, in order) and "CRASH
// <pattern>" (the reference fails with a traceback). A line "session"
// makes the file's later cases one run of the reference, which keeps
// parser state from one pattern to the next (see ValidationSession).

type refMatchCase struct {
	file, version, want, pattern string
	data                         []byte
	line                         int
}

func readRefMatchCases(t *testing.T) []refMatchCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "reference", "m*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no reference matcher cases: %v", err)
	}
	var out []refMatchCase
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		version := Version21
		var data []byte
		inData := false
		n := 0
		for sc.Scan() {
			n++
			line := sc.Text()
			if inData {
				if line == "end" {
					inData = false
					continue
				}
				data = append(data, line...)
				data = append(data, '\n')
				continue
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			verb, rest, _ := strings.Cut(line, " ")
			switch verb {
			case "version":
				version = rest
			case "data":
				data = nil
				inData = true
			case "MATCH", "NOMATCH", "ERROR":
				if strings.HasPrefix(rest, "\"") {
					u, err := strconv.Unquote(rest)
					if err != nil {
						t.Fatalf("%s:%d: %v", name, n, err)
					}
					rest = u
				}
				out = append(out, refMatchCase{file: filepath.Base(name), version: version, want: verb, pattern: rest, data: data, line: n})
			default:
				t.Fatalf("%s:%d: bad line %q", name, n, line)
			}
		}
		f.Close()
	}
	return out
}

// refMatch runs one pattern the way "stix2-matcher -s VERSION" does.
func refMatch(pattern string, data []byte, version string) string {
	ok, err := MatchJSON(pattern, data, version)
	switch {
	case err != nil:
		return "ERROR"
	case ok:
		return "MATCH"
	}
	return "NOMATCH"
}

func TestPatternReferenceMatcher(t *testing.T) {
	cases := readRefMatchCases(t)
	failed := 0
	for _, c := range cases {
		got := refMatch(c.pattern, c.data, c.version)
		if got != c.want {
			failed++
			ok, err := MatchJSON(c.pattern, c.data, c.version)
			t.Errorf("%s:%d: %s: got %s (%v %v), want %s", c.file, c.line, c.pattern, got, ok, err, c.want)
		}
	}
	t.Logf("%d reference matcher cases, %d failed", len(cases), failed)
}

var _ = errors.New

type refValidateCase struct {
	file, version, want, pattern string
	msgs                         []string
	line                         int
	session                      *ValidationSession // shared by a file's cases after "session"
}

func readRefValidateCases(t *testing.T) []refValidateCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "reference", "v*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no reference validator cases: %v", err)
	}
	var out []refValidateCase
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		version := Version21
		var sess *ValidationSession
		for n, line := range strings.Split(string(data), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			verb, rest, _ := strings.Cut(line, " ")
			switch verb {
			case "version":
				version = rest
			case "session":
				sess = &ValidationSession{}
			case "PASS", "FAIL", "CRASH":
				if strings.HasPrefix(rest, "\"") {
					u, err := strconv.Unquote(rest)
					if err != nil {
						t.Fatalf("%s:%d: %v", name, n+1, err)
					}
					rest = u
				}
				out = append(out, refValidateCase{file: filepath.Base(name), version: version, want: verb, pattern: rest, line: n + 1, session: sess})
			case "=>":
				last := &out[len(out)-1]
				last.msgs = append(last.msgs, rest)
			default:
				t.Fatalf("%s:%d: bad line %q", name, n+1, line)
			}
		}
	}
	return out
}

func TestPatternReferenceValidator(t *testing.T) {
	cases := readRefValidateCases(t)
	failed := 0
	for _, c := range cases {
		var msgs []string
		var crash string
		if c.session != nil {
			msgs, crash = c.session.Report(c.pattern, c.version)
		} else {
			msgs, crash = ValidateReport(c.pattern, c.version)
		}
		got := "PASS"
		switch {
		case crash != "":
			got = "CRASH"
		case len(msgs) > 0:
			got = "FAIL"
		}
		bad := got != c.want
		if !bad && c.msgs != nil {
			if len(msgs) != len(c.msgs) {
				bad = true
			}
			for i := range c.msgs {
				if i < len(msgs) && !strings.HasPrefix(msgs[i], c.msgs[i]) {
					bad = true
				}
			}
		}
		if bad {
			failed++
			t.Errorf("%s:%d: %s\n got %s %q (crash %q)\nwant %s %q", c.file, c.line, c.pattern, got, msgs, crash, c.want, c.msgs)
		}
		// Validate agrees with the messages (it reports the reference's
		// crashes as errors).
		if c.version == Version21 && (Validate(c.pattern) == nil) != (got == "PASS") {
			t.Errorf("%s:%d: Validate disagrees with ValidateReport on %s", c.file, c.line, c.pattern)
		}
	}
	t.Logf("%d reference validator cases, %d failed", len(cases), failed)
}
