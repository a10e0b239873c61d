package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/taxii"
)

func cmdPull(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: jointcell pull --server URL --token T [--user U] [--ca FILE|--insecure] --collection ID [--added-after TS] [--type T,...] [--id ID,...] [-o FILE]")
		fs.PrintDefaults()
	}
	var cf clientFlags
	cf.register(fs)
	addedAfter := fs.String("added-after", "", "only objects the server added after this timestamp (e.g. 2021-06-10T00:00:00Z)")
	types := fs.String("type", "", "only these types, comma-separated")
	ids := fs.String("id", "", "only these object ids, comma-separated")
	out := fs.String("o", "", "write the bundle to this file instead of stdout")
	limit := fs.Int("limit", 0, "page size to ask for (0: the server's default)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 0 {
		return fail(e, "pull: unexpected argument %q", fs.Arg(0))
	}
	if *addedAfter != "" {
		ts, err := time.Parse(time.RFC3339Nano, *addedAfter)
		if err != nil || !strings.HasSuffix(*addedAfter, "Z") {
			return fail(e, "pull: --added-after %q is not a UTC timestamp such as 2021-06-10T00:00:00Z", *addedAfter)
		}
		// TAXII date_added has microsecond precision (TAXII 2.1 §3.4.1),
		// so truncating a finer timestamp selects the same objects, and
		// servers such as medallion reject more than six digits.
		if frac, ok := fraction(*addedAfter); ok && len(frac) > 6 {
			*addedAfter = ts.Truncate(time.Microsecond).Format(store.TimestampFormat)
		}
	}
	c, err := cf.client()
	if err != nil {
		return fail(e, "pull: %v", err)
	}
	f := taxii.Filter{AddedAfter: *addedAfter, Limit: *limit, Types: splitList(*types), IDs: splitList(*ids)}

	// The bundle is streamed: to a temporary file renamed into place at
	// the end (so a failed pull leaves no truncated bundle), or to stdout.
	var w io.Writer = e.stdout
	var tmp *os.File
	if *out != "" {
		tmp, err = os.CreateTemp(filepath.Dir(*out), ".pull-*")
		if err != nil {
			return fail(e, "pull: %v", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		w = tmp
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	head, _ := json.Marshal(stix.NewID("bundle"))
	fmt.Fprintf(bw, `{"type":"bundle","id":%s`, head)
	n, pages := 0, 0
	err = c.Iterate(ctx, cf.collection, f, func(p *taxii.ObjectsPage) error {
		for _, o := range p.Objects {
			if n == 0 {
				bw.WriteString(`,"objects":[`)
			} else {
				bw.WriteByte(',')
			}
			bw.Write(o)
			n++
		}
		pages++
		if p.More || pages > 1 {
			fmt.Fprintf(e.stderr, "pull: %d objects (page %d)\n", n, pages)
		}
		return nil
	})
	if err != nil {
		return fail(e, "pull: %v", err)
	}
	if n > 0 {
		bw.WriteByte(']')
	}
	bw.WriteString("}\n")
	if err := bw.Flush(); err != nil {
		return fail(e, "pull: %v", err)
	}
	if tmp != nil {
		if err := tmp.Close(); err != nil {
			return fail(e, "pull: %v", err)
		}
		if err := os.Rename(tmp.Name(), *out); err != nil {
			return fail(e, "pull: %v", err)
		}
		fmt.Fprintf(e.stderr, "pull: wrote %d objects to %s\n", n, *out)
	}
	return 0
}

// fraction returns the fractional-second digits of an RFC 3339 timestamp.
func fraction(ts string) (string, bool) {
	_, frac, ok := strings.Cut(strings.TrimSuffix(ts, "Z"), ".")
	return frac, ok
}
