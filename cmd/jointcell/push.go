package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/taxii"
)

// clientFlags are the connection flags shared by push and pull.
type clientFlags struct {
	server, user, token, ca, collection string
	insecure                            bool
	timeout                             time.Duration
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", "", "TAXII server: its root, discovery or API root URL (required)")
	fs.StringVar(&c.user, "user", "", "user name for HTTP Basic; without it the token is sent as a Bearer token")
	fs.StringVar(&c.token, "token", "", "API token (required)")
	fs.StringVar(&c.ca, "ca", "", "PEM file of the CA (or self-signed certificate) to trust")
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the server's certificate (testing only)")
	fs.StringVar(&c.collection, "collection", "", "collection id or alias (required)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Minute, "timeout of each request")
}

func (c *clientFlags) client() (*taxii.Client, error) {
	switch {
	case c.server == "":
		return nil, errors.New("--server is required")
	case c.token == "":
		return nil, errors.New("--token is required")
	case c.collection == "":
		return nil, errors.New("--collection is required")
	case c.ca != "" && c.insecure:
		return nil, errors.New("--ca and --insecure exclude each other")
	}
	return taxii.NewClient(taxii.ClientConfig{
		BaseURL: c.server, User: c.user, Token: c.token, CAFile: c.ca, Insecure: c.insecure,
		Timeout: c.timeout, UserAgent: "jointcell",
	})
}

func cmdPush(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: jointcell push --server URL --token T [--user U] [--ca FILE|--insecure] --collection ID FILE|-")
		fs.PrintDefaults()
	}
	var cf clientFlags
	cf.register(fs)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		return fail(e, "push: give exactly one FILE (a bundle, a list or an object; - for stdin)")
	}
	c, err := cf.client()
	if err != nil {
		return fail(e, "push: %v", err)
	}
	var data []byte
	if name := fs.Arg(0); name == "-" {
		data, err = io.ReadAll(e.stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return fail(e, "push: %v", err)
	}
	objs, err := stix.Decode(data)
	if err != nil {
		return fail(e, "push: %s: %v", fs.Arg(0), err)
	}
	root, err := c.APIRoot(ctx)
	if err != nil {
		return fail(e, "push: %v", err)
	}
	limit := root.MaxContentLength
	if limit <= 0 {
		limit = taxii.DefaultMaxContentLength
	}
	raws := make([]json.RawMessage, len(objs))
	for i, o := range objs {
		raws[i] = o.Raw
	}
	batches, tooBig := taxii.SplitEnvelopes(raws, limit)

	var failures []taxii.StatusDetail
	for _, i := range tooBig {
		o := objs[i]
		failures = append(failures, taxii.StatusDetail{ID: o.ID, Version: o.Version(), Message: fmt.Sprintf("larger than the server's max_content_length (%d bytes); not sent", limit)})
	}
	succeeded, pending, sent := 0, 0, 0
	for i, b := range batches {
		st, err := c.AddObjects(ctx, cf.collection, b)
		if err != nil {
			return fail(e, "push: envelope %d of %d: %v", i+1, len(batches), err)
		}
		succeeded += st.SuccessCount
		pending += st.PendingCount
		failures = append(failures, st.Failures...)
		sent += len(b)
		if len(batches) > 1 {
			fmt.Fprintf(e.stderr, "push: %d/%d objects sent (envelope %d of %d)\n", sent, len(objs), i+1, len(batches))
		}
	}
	fmt.Fprintf(e.stdout, "%d objects: %d succeeded, %d failed, %d pending\n", len(objs), succeeded, len(failures), pending)
	for _, f := range failures {
		fmt.Fprintf(e.stdout, "%s %s: %s\n", f.ID, f.Version, f.Message)
	}
	if len(failures) > 0 || pending > 0 {
		return 1
	}
	return 0
}
