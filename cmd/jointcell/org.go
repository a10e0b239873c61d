package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	// Imported as jcell: audit.go declares a func cell.
	jcell "github.com/jointcell/jointcell/internal/cell"
)

// cmdOrg manages organisations: jointcell org create|list --data DIR.
func cmdOrg(ctx context.Context, e *env, args []string) int {
	return subcommands(ctx, e, "org", args, map[string]func(context.Context, *env, []string) int{
		"create": orgCreate,
		"list":   orgList,
	})
}

// orgCreate creates an organisation and prints its STIX identity id.
func orgCreate(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "org create", "NAME")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "org create: %v", err)
	}
	defer c.Close()
	o, err := c.Manager().CreateOrganisation(ctx, pos[0])
	if err := audited(ctx, e, c, "organisation:"+pos[0], "create organisation", err); err != nil {
		return fail(e, "org create: %v", err)
	}
	fmt.Fprintln(e.stdout, o.IdentityID)
	return 0
}

func orgList(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "org list", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "org list: %v", err)
	}
	defer c.Close()
	orgs, err := c.Manager().Organisations(ctx)
	if err != nil {
		return fail(e, "org list: %v", err)
	}
	tw := table(e.stdout, "NAME", "IDENTITY", "CREATED")
	for _, o := range orgs {
		row(tw, o.Name, o.IdentityID, o.Created.UTC().Format(time.RFC3339))
	}
	return flushTable(e, tw)
}

// The helpers below are shared by the management commands (org, user,
// collection, group), which all open a data folder directly: SQLite in WAL
// mode lets them run while the server does.

// subcommands dispatches "jointcell NAME SUB ...".
func subcommands(ctx context.Context, e *env, name string, args []string, subs map[string]func(context.Context, *env, []string) int) int {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(e.stderr, "usage: jointcell %s %s --data DIR [flags] [args]\n", name, strings.Join(names, "|"))
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub, ok := subs[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "jointcell: %s: unknown subcommand %q (use %s)\n", name, args[0], strings.Join(names, ", "))
		return 2
	}
	return sub(ctx, e, args[1:])
}

// manageFlags returns a flag set with the --data flag every management
// command takes.
func manageFlags(e *env, name, positional string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "the cell's data folder (required)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, strings.TrimSpace("usage: jointcell "+name+" --data DIR [flags] "+positional))
		fs.PrintDefaults()
	}
	return fs, data
}

// parseArgs parses flags placed before, between or after the positional
// arguments (the flag package alone stops at the first positional one),
// and checks that there are exactly want positional arguments and a --data.
// It returns the positional arguments and -1, or an exit status.
func parseArgs(e *env, fs *flag.FlagSet, args []string, want int) ([]string, int) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0
			}
			return nil, 2
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		fmt.Fprintf(e.stderr, "jointcell: %s: want %d argument(s), got %d (see -h)\n", fs.Name(), want, len(pos))
		return nil, 2
	}
	if d := fs.Lookup("data"); d != nil && d.Value.String() == "" {
		fmt.Fprintf(e.stderr, "jointcell: %s: --data DIR is required\n", fs.Name())
		return nil, 2
	}
	return pos, -1
}

// openCell opens the data folder for a management command. It must exist
// already: a typo in --data should not create a new, empty cell.
func openCell(ctx context.Context, e *env, dir string) (*jcell.Cell, error) {
	if _, err := os.Stat(filepath.Join(dir, jcell.DBFile)); err != nil {
		return nil, fmt.Errorf("%s is not a cell's data folder (start jointcell serve --data %s first)", dir, dir)
	}
	// Warnings such as the folder's mode are the server's to give; a
	// command's stderr is its one-line error.
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	return jcell.Open(ctx, dir, logger)
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, header...)
	return tw
}

func row(tw *tabwriter.Writer, cols ...string) {
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
}

func flushTable(e *env, tw *tabwriter.Writer) int {
	if err := tw.Flush(); err != nil {
		return fail(e, "write: %v", err)
	}
	return 0
}
