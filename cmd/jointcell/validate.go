package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/jointcell/jointcell/internal/pattern"
	"github.com/jointcell/jointcell/internal/stix"
)

// cmdValidate checks STIX 2.1 files: a bundle, a single object or a JSON
// list of objects per file, "-" for standard input. It prints one line per
// problem, FILE: OBJECT-ID: json.path: message, and exits 0 when every file
// is valid, 1 when any is not, 2 on a usage error.
func cmdValidate(_ context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	strict := fs.Bool("strict", false, "also fail on SHOULD violations (deterministic SCO ids, UUIDv4 elsewhere, open vocabularies, naming)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: jointcell validate [--strict] FILE...  (FILE may be - for stdin)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	opts := stix.Options{Strict: *strict, Pattern: pattern.Validate}
	code := 0
	for _, name := range fs.Args() {
		data, err := readInput(e, name)
		if err != nil {
			fail(e, "validate: %v", err)
			code = 1
			continue
		}
		_, probs, err := stix.ValidateJSON(data, opts)
		if err != nil {
			fmt.Fprintf(e.stdout, "%s: %v\n", name, err)
			code = 1
			continue
		}
		for _, p := range probs {
			msg := p.Message
			if p.Severity == stix.Warning {
				msg = "(should) " + msg
			}
			fmt.Fprintf(e.stdout, "%s: %s: %s: %s\n", name, p.ObjectID, p.Path, msg)
			code = 1
		}
	}
	return code
}

func readInput(e *env, name string) ([]byte, error) {
	if name == "-" {
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, fmt.Errorf("read stdin: %w", err)
		}
		return data, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}
