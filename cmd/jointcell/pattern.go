package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/jointcell/jointcell/internal/pattern"
)

// cmdPattern validates and matches STIX patterns with the command-line
// behaviour of the reference tools (stix2-patterns' validate-patterns and
// stix2-matcher), so results can be compared line for line.
func cmdPattern(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(e.stderr, "usage: jointcell pattern validate (PATTERN | -f FILE)")
		fmt.Fprintln(e.stderr, "       jointcell pattern match -p PATTERNS_FILE -f OBSERVED_FILE [-s 2.1|2.0] [-q]")
		return 2
	}
	switch args[0] {
	case "validate":
		return patternValidate(e, args[1:])
	case "match":
		return patternMatch(ctx, e, args[1:])
	}
	return fail(e, "pattern: unknown subcommand %q (want validate or match)", args[0])
}

func patternValidate(e *env, args []string) int {
	fs := flag.NewFlagSet("pattern validate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	file := fs.String("f", "", "validate the patterns in `FILE`, one a line")
	fs.StringVar(file, "file", "", "same as -f")
	fs.String("v", "2.1", "STIX version (only 2.1 is supported)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *file == "" {
		if fs.NArg() != 1 {
			return fail(e, "pattern validate: want one PATTERN argument or -f FILE")
		}
		p := fs.Arg(0)
		msgs := pattern.ValidateMessages(p)
		if len(msgs) == 0 {
			fmt.Fprintf(e.stdout, "PASS: %s\n", p)
			return 0
		}
		fmt.Fprintln(e.stderr, msgs[0])
		return 1
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fail(e, "pattern validate: %v", err)
	}
	// The reference reads the file line by line and validates each line
	// with its newline; a blank line is therefore a failing pattern.
	pass, failed := 0, 0
	for _, line := range splitLinesKeep(string(data)) {
		msgs := pattern.ValidateMessages(line)
		if len(msgs) == 0 {
			fmt.Fprintf(e.stdout, "\nPASS: %s\n", line)
			pass++
			continue
		}
		for _, m := range msgs {
			fmt.Fprintf(e.stdout, "%s \n\n", m)
		}
		failed++
	}
	fmt.Fprintf(e.stdout, "\nPASSED: %d  patterns\n", pass)
	fmt.Fprintf(e.stdout, "FAILED: %d  patterns\n", failed)
	return 0
}

// splitLinesKeep splits text as Python's readline does in text mode:
// universal newlines, each line keeping its "\n".
func splitLinesKeep(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

type countFlag int

func (c *countFlag) String() string   { return fmt.Sprint(int(*c)) }
func (c *countFlag) Set(string) error { *c++; return nil }
func (c *countFlag) IsBoolFlag() bool { return true }

func patternMatch(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("pattern match", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var patternsFile, observedFile, version string
	var quiet countFlag
	fs.StringVar(&patternsFile, "p", "", "`FILE` of STIX patterns, one a line")
	fs.StringVar(&patternsFile, "patterns", "", "same as -p")
	fs.StringVar(&observedFile, "f", "", "`FILE` with a JSON list of STIX bundles (2.1) or observed-data SDOs (2.0)")
	fs.StringVar(&observedFile, "file", "", "same as -f")
	fs.StringVar(&version, "s", "", "STIX `VERSION` of the observed data: 2.1 or 2.0 (default: 2.1 when the file holds bundles, else 2.0)")
	fs.StringVar(&version, "stix_version", "", "same as -s")
	fs.String("e", "utf8", "file encoding (only utf8)")
	fs.Bool("v", false, "verbose (accepted for compatibility)")
	fs.Var(&quiet, "q", "quiet: once prints only NO MATCH lines, twice prints nothing")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if patternsFile == "" || observedFile == "" {
		fmt.Fprintln(e.stderr, "jointcell: pattern match: -p and -f are required")
		return 2
	}
	matchErr := func(err error) int {
		fmt.Fprintf(e.stderr, "jointcell: pattern match: %v\n", err)
		return 2
	}
	data, err := os.ReadFile(observedFile)
	if err != nil {
		return matchErr(err)
	}
	if !json.Valid(data) || !utf8.Valid(data) {
		return matchErr(errors.New("observed data is not valid JSON"))
	}
	if version == "" {
		version = guessVersion(data)
	}
	pdata, err := os.ReadFile(patternsFile)
	if err != nil {
		return matchErr(err)
	}
	if !utf8.Valid(pdata) {
		return matchErr(errors.New("patterns file is not valid UTF-8"))
	}

	var observations []pattern.Observation
	var obsErr error
	loaded := false
	status := 0
	for _, line := range splitLinesKeep(string(pdata)) {
		if ctx.Err() != nil {
			return matchErr(ctx.Err())
		}
		p := pyStripLine(line)
		if p == "" || p[0] == '#' {
			continue
		}
		parsed, err := pattern.Parse(p)
		if err != nil {
			return matchErr(err)
		}
		if !loaded {
			observations, obsErr = pattern.ObservationsFromJSON(data, version)
			loaded = true
		}
		if obsErr != nil {
			return matchErr(obsErr)
		}
		ok, err := parsed.Match(observations)
		if err != nil {
			return matchErr(err)
		}
		esc := pattern.PyUnicodeEscape(p)
		if ok {
			if quiet < 1 {
				fmt.Fprintf(e.stdout, "\nMATCH:  %s\n", esc)
			}
		} else {
			if quiet < 2 {
				fmt.Fprintf(e.stdout, "\nNO MATCH:  %s\n", esc)
			}
			status = 1
		}
	}
	return status
}

// pyStripLine is Python's str.strip().
func pyStripLine(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return r == ' ' || (r >= '\t' && r <= '\r') || (r >= 0x1c && r <= 0x1f) || r == 0x85 || r == 0xa0 ||
			r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 || r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000
	})
}

// guessVersion picks 2.1 when the observed file holds STIX bundles (the
// 2.1 input form of the reference matcher) and 2.0 otherwise.
func guessVersion(data []byte) string {
	var list []map[string]any
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var one map[string]any
		if json.Unmarshal(trimmed, &one) == nil {
			list = []map[string]any{one}
		}
	} else if json.Unmarshal(trimmed, &list) != nil {
		return pattern.Version20
	}
	if len(list) == 0 {
		return pattern.Version20
	}
	for _, m := range list {
		if m["type"] != "bundle" {
			return pattern.Version20
		}
	}
	return pattern.Version21
}
