package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jointcell/jointcell/internal/audit"
)

// cmdAudit verifies and shows the audit log of a data folder. It only
// reads: the running server is the log's one writer.
func cmdAudit(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(e.stderr, "usage: jointcell audit verify --data DIR")
		fmt.Fprintln(e.stderr, "       jointcell audit show --data DIR [--actor U] [--action A] [--since TS] [--until TS] [--id OBJECT-ID] [--limit N] [--json]")
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "verify":
		return auditVerify(e, args[1:])
	case "show":
		return auditShow(ctx, e, args[1:])
	}
	return fail(e, "audit: unknown subcommand %q (want verify or show)", args[0])
}

func auditVerify(e *env, args []string) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "the cell's data folder (reads DIR/cell.key and DIR/audit)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *data == "" || fs.NArg() > 0 {
		return fail(e, "audit verify: want --data DIR and no arguments")
	}
	key, err := readCellKey(filepath.Join(*data, "cell.key"))
	if err != nil {
		return fail(e, "audit verify: %v", err)
	}
	rep, err := audit.Verify(filepath.Join(*data, "audit"), key.Public().(ed25519.PublicKey))
	if err != nil {
		return fail(e, "audit verify: %v", err)
	}
	fmt.Fprintf(e.stdout, "ok: %d entries, %d checkpoints, root %s\n", rep.Entries, rep.Checkpoints, hex.EncodeToString(rep.Root))
	if rep.Unsigned > 0 {
		fmt.Fprintf(e.stderr, "note: the last %d entries are not yet covered by a signed checkpoint (the server signs one within a minute and on stop)\n", rep.Unsigned)
	}
	return 0
}

// readCellKey reads the cell's ed25519 private key: PKCS#8 in a PEM block
// of type "PRIVATE KEY", as the server writes it on first start.
func readCellKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cell key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("read cell key: %s holds no PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("read cell key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("read cell key: %s holds a %T, want an ed25519 key", path, k)
	}
	return key, nil
}

func auditShow(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("audit show", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	data := fs.String("data", "", "the cell's data folder (reads DIR/audit)")
	actor := fs.String("actor", "", "only entries by this user")
	action := fs.String("action", "", "only entries with this action (e.g. object.read, auth.fail)")
	since := fs.String("since", "", "only entries at or after this time (RFC 3339, or YYYY-MM-DD)")
	until := fs.String("until", "", "only entries before this time (RFC 3339, or YYYY-MM-DD)")
	id := fs.String("id", "", "only entries concerning this object id")
	limit := fs.Int("limit", 0, "print at most the N most recent matching entries (0: all)")
	asJSON := fs.Bool("json", false, "print the entries' JSON lines, exactly as stored, instead of a table")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *data == "" || fs.NArg() > 0 {
		return fail(e, "audit show: want --data DIR and no arguments")
	}
	if *limit < 0 {
		return fail(e, "audit show: --limit must not be negative")
	}
	from, err := parseAuditTime(*since)
	if err != nil {
		return fail(e, "audit show: --since: %v", err)
	}
	to, err := parseAuditTime(*until)
	if err != nil {
		return fail(e, "audit show: --until: %v", err)
	}
	match := func(en audit.Entry) bool {
		switch {
		case *actor != "" && en.Actor != *actor,
			*action != "" && en.Action != *action,
			!from.IsZero() && en.Time.Before(from),
			!to.IsZero() && !en.Time.Before(to):
			return false
		case *id == "":
			return true
		}
		for _, x := range en.IDs {
			if x == *id {
				return true
			}
		}
		return false
	}

	// With --limit, keep the last N matches in a ring: the most recent
	// entries are usually the ones wanted, and the log is read in order.
	type row struct {
		index uint64
		line  []byte
		entry audit.Entry
	}
	var rows []row
	next := 0
	err = audit.Scan(ctx, filepath.Join(*data, "audit"), func(i uint64, line []byte, en audit.Entry) error {
		if !match(en) {
			return nil
		}
		r := row{i, line, en}
		if *limit == 0 || len(rows) < *limit {
			rows = append(rows, r)
			return nil
		}
		rows[next] = r
		next = (next + 1) % *limit
		return nil
	})
	if err != nil {
		return fail(e, "audit show: %v", err)
	}
	rows = append(rows[next:], rows[:next]...)

	if *asJSON {
		for _, r := range rows {
			fmt.Fprintf(e.stdout, "%s\n", r.line)
		}
		return 0
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTIME\tACTOR\tORG\tACTION\tOUTCOME\tTARGET\tIDS\tDETAIL")
	for _, r := range rows {
		en := r.entry
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.index, en.Time.Format(time.RFC3339),
			cell(en.Actor), cell(en.Org), cell(en.Action), cell(en.Outcome), cell(en.Target),
			cell(strings.Join(en.IDs, ",")), cell(en.Detail))
	}
	if err := tw.Flush(); err != nil {
		return fail(e, "audit show: %v", err)
	}
	return 0
}

// cell makes a value safe for one table cell: "-" for nothing, and no tabs
// or line breaks (which an actor name or detail could carry) to break the
// table or forge a row.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

func parseAuditTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time or a YYYY-MM-DD date", s)
}
