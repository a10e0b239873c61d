package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/federation"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/taxii"
)

// cmdPeer manages federation peers: jointcell peer add|link|list|status|group.
func cmdPeer(ctx context.Context, e *env, args []string) int {
	return subcommands(ctx, e, "peer", args, map[string]func(context.Context, *env, []string) int{
		"add":    peerAdd,
		"link":   peerLink,
		"list":   peerList,
		"status": peerStatus,
		"group":  peerGroup,
	})
}

// fedStore returns the federation part of the cell's store.
func fedStore(st store.Store) (federation.Store, error) {
	fs, ok := st.(federation.Store)
	if !ok {
		return nil, errors.New("this cell's store does not support federation")
	}
	return fs, nil
}

// peerAdd stores a peer after fetching its key (or pinning --peer-key)
// and prints both fingerprints for an out-of-band check.
func peerAdd(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer add", "NAME")
	url := fs.String("url", "", "the peer's base URL, e.g. https://peer.example:8443 (required)")
	user := fs.String("user", "", "the account this cell uses on the peer")
	token := fs.String("token", "", "that account's token (required)")
	ca := fs.String("ca", "", "PEM file of the CA (or self-signed certificate) the peer's TLS certificate must chain to")
	insecure := fs.Bool("insecure", false, "skip TLS certificate verification (tests only)")
	peerKey := fs.String("peer-key", "", "pin the peer cell's ed25519 public key (hex) without contacting it")
	orgs := fs.String("orgs", "", "identity ids of the peer cell's organisations, comma-separated (default: learned from the peer)")
	account := fs.String("account", "", "the local user the peer authenticates as here")
	foreign := fs.Bool("foreign", false, "the peer is a TAXII 2.1 server that is not a jointcell cell: accept its objects unsigned")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	name := pos[0]
	switch {
	case *url == "":
		return fail(e, "peer add: --url URL is required")
	case *token == "":
		return fail(e, "peer add: --token TOKEN is required")
	case *ca != "" && *insecure:
		return fail(e, "peer add: --ca and --insecure exclude each other")
	case *foreign && *peerKey != "":
		return fail(e, "peer add: --foreign and --peer-key exclude each other")
	case strings.ContainsAny(name, "|/ ") || name == "":
		return fail(e, "peer add: peer name %q must not contain '|', '/' or spaces", name)
	}
	if _, err := taxii.NewClient(taxii.ClientConfig{BaseURL: *url}); err != nil {
		return fail(e, "peer add: %v", err)
	}
	for _, id := range splitList(*orgs) {
		if !strings.HasPrefix(id, "identity--") {
			return fail(e, "peer add: --orgs: %q is not an identity id", id)
		}
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "peer add: %v", err)
	}
	defer c.Close()
	fst, err := fedStore(c.Store)
	if err != nil {
		return fail(e, "peer add: %v", err)
	}
	if *account != "" {
		if _, err := c.Store.User(ctx, *account); err != nil {
			return fail(e, "peer add: --account %s: no such user", *account)
		}
	}
	sealed, err := federation.SealToken(c.Key, *token)
	if err != nil {
		return fail(e, "peer add: %v", err)
	}
	p := store.Peer{Name: name, URL: *url, User: *user, Token: sealed, CAFile: *ca, Insecure: *insecure,
		Orgs: splitList(*orgs), Account: *account, Created: time.Now().UTC()}
	switch {
	case *peerKey != "":
		k, err := hex.DecodeString(strings.TrimSpace(*peerKey))
		if err != nil || len(k) != ed25519.PublicKeySize {
			return fail(e, "peer add: --peer-key must be the %d-byte ed25519 public key in hex", ed25519.PublicKeySize)
		}
		p.PublicKey = k
	case !*foreign:
		hc, err := federation.HTTPClient(*ca, *insecure, 15*time.Second)
		if err != nil {
			return fail(e, "peer add: %v", err)
		}
		info, err := federation.FetchInfo(ctx, hc, *url, *user, *token)
		if err != nil {
			return fail(e, "peer add: %v (use --foreign for a TAXII server that is not a jointcell cell)", err)
		}
		k, err := base64.StdEncoding.DecodeString(info.PublicKey)
		if err != nil || len(k) != ed25519.PublicKeySize || federation.Fingerprint(k) != info.Fingerprint {
			return fail(e, "peer add: the peer's key and fingerprint disagree")
		}
		p.PublicKey, p.Identity = k, info.Identity
		if len(p.Orgs) == 0 {
			for _, o := range info.Organisations {
				p.Orgs = append(p.Orgs, o.Identity)
			}
		}
	}
	if err := fst.PutPeer(ctx, p); err != nil {
		return fail(e, "peer add: %v", err)
	}
	fmt.Fprintf(e.stdout, "local cell fingerprint: %s\n", federation.Fingerprint(c.Key.Public().(ed25519.PublicKey)))
	if p.PublicKey != nil {
		fmt.Fprintf(e.stdout, "peer cell fingerprint:  %s\n", federation.Fingerprint(p.PublicKey))
	} else {
		fmt.Fprintln(e.stdout, "peer cell fingerprint:  none (foreign TAXII server: objects accepted unsigned)")
	}
	fmt.Fprintln(e.stdout, "compare both with the peer's operator over another channel")
	return 0
}

// peerLink adds push and pull links between collections.
func peerLink(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer link", "NAME")
	var push, pull []string
	fs.Func("push", "LOCAL_COLLECTION=REMOTE_COLLECTION: send what is added locally (repeatable)", func(v string) error { push = append(push, v); return nil })
	fs.Func("pull", "REMOTE_COLLECTION=LOCAL_COLLECTION: fetch what the peer adds (repeatable)", func(v string) error { pull = append(pull, v); return nil })
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	if len(push)+len(pull) == 0 {
		return fail(e, "peer link: give --push LOCAL=REMOTE or --pull REMOTE=LOCAL")
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "peer link: %v", err)
	}
	defer c.Close()
	fst, err := fedStore(c.Store)
	if err != nil {
		return fail(e, "peer link: %v", err)
	}
	if _, err := fst.Peer(ctx, pos[0]); err != nil {
		return fail(e, "peer link: no peer named %q", pos[0])
	}
	var links []store.Link
	parse := func(flag, v string, localFirst bool) error {
		a, b, ok := strings.Cut(v, "=")
		if !ok || a == "" || b == "" {
			return fmt.Errorf("--%s %q: want A=B", flag, v)
		}
		local, remote := a, b
		if !localFirst {
			local, remote = b, a
		}
		col, err := c.Store.Collection(ctx, local)
		if err != nil {
			return fmt.Errorf("--%s: no local collection %q", flag, local)
		}
		links = append(links, store.Link{Peer: pos[0], Direction: flag, Local: col.ID, Remote: remote})
		return nil
	}
	for _, v := range push {
		if err := parse(store.Push, v, true); err != nil {
			return fail(e, "peer link: %v", err)
		}
	}
	for _, v := range pull {
		if err := parse(store.Pull, v, false); err != nil {
			return fail(e, "peer link: %v", err)
		}
	}
	for _, l := range links {
		if err := fst.PutLink(ctx, l); err != nil {
			return fail(e, "peer link: %v", err)
		}
	}
	return 0
}

func peerList(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer list", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "peer list: %v", err)
	}
	defer c.Close()
	fst, err := fedStore(c.Store)
	if err != nil {
		return fail(e, "peer list: %v", err)
	}
	peers, err := fst.ListPeers(ctx)
	if err != nil {
		return fail(e, "peer list: %v", err)
	}
	links, err := fst.ListLinks(ctx)
	if err != nil {
		return fail(e, "peer list: %v", err)
	}
	tw := table(e.stdout, "NAME", "URL", "FINGERPRINT", "ORGS", "ACCOUNT", "LINKS")
	for _, p := range peers {
		fp := "unsigned"
		if p.PublicKey != nil {
			fp = federation.Fingerprint(p.PublicKey)[:16]
		}
		n := 0
		for _, l := range links {
			if l.Peer == p.Name {
				n++
			}
		}
		row(tw, p.Name, p.URL, fp, fmt.Sprint(len(p.Orgs)), dash(p.Account), fmt.Sprint(n))
	}
	return flushTable(e, tw)
}

// peerStatus shows every link: last success, lag, backlog, last error.
// Lag is the age of the oldest local version not yet pushed (push) or the
// time since the last successful fetch (pull); backlog counts what waits
// to be pushed, or asks the peer what waits to be pulled.
func peerStatus(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer status", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "peer status: %v", err)
	}
	defer c.Close()
	fst, err := fedStore(c.Store)
	if err != nil {
		return fail(e, "peer status: %v", err)
	}
	links, err := fst.ListLinks(ctx)
	if err != nil {
		return fail(e, "peer status: %v", err)
	}
	now := time.Now()
	tw := table(e.stdout, "PEER", "DIRECTION", "LOCAL", "REMOTE", "LAST-SUCCESS", "LAG", "BACKLOG", "SYNCED", "CHECKPOINT", "LAST-ERROR")
	for _, l := range links {
		lag, backlog := "-", "?"
		switch l.Direction {
		case store.Push:
			var after time.Time
			if l.Checkpoint != "" {
				after, _ = time.Parse(time.RFC3339Nano, l.Checkpoint)
			}
			page, err := c.Store.Query(ctx, l.Local, store.Filter{AddedAfter: after, Versions: []string{"all"}, Limit: 10000})
			if err == nil {
				backlog = fmt.Sprint(len(page.Versions))
				if page.More {
					backlog = ">" + backlog
				}
				lag = "0s"
				if len(page.Versions) > 0 {
					lag = now.Sub(page.Versions[0].DateAdded).Truncate(time.Millisecond).String()
				}
			}
		case store.Pull:
			if !l.LastSuccess.IsZero() {
				lag = now.Sub(l.LastSuccess).Truncate(time.Millisecond).String()
			}
			backlog = remoteBacklog(ctx, c.Key, fst, l)
		}
		last := "-"
		if !l.LastSuccess.IsZero() {
			last = l.LastSuccess.UTC().Format(time.RFC3339)
		}
		errMsg := "-"
		if l.LastError != "" {
			errMsg = l.LastErrorAt.UTC().Format(time.RFC3339) + " " + strings.ReplaceAll(l.LastError, "\n", " ")
		}
		row(tw, l.Peer, l.Direction, l.Local, l.Remote, last, lag, backlog, fmt.Sprint(l.Synced), dash(l.Checkpoint), errMsg)
	}
	return flushTable(e, tw)
}

// remoteBacklog asks the peer how many versions wait after the pull
// checkpoint (one manifest page, so it says ">1000" beyond that).
func remoteBacklog(ctx context.Context, key ed25519.PrivateKey, fst federation.Store, l store.Link) string {
	p, err := fst.Peer(ctx, l.Peer)
	if err != nil {
		return "?"
	}
	token, err := federation.OpenToken(key, p.Token)
	if err != nil {
		return "?"
	}
	cl, err := taxii.NewClient(taxii.ClientConfig{BaseURL: p.URL, User: p.User, Token: token, CAFile: p.CAFile, Insecure: p.Insecure, Timeout: 3 * time.Second})
	if err != nil {
		return "?"
	}
	m, err := cl.Manifest(ctx, l.Remote, taxii.Filter{AddedAfter: l.Checkpoint, Limit: 1000, Versions: []string{"all"}})
	if err != nil {
		return "?"
	}
	n := fmt.Sprint(len(m.Objects))
	if m.More {
		n = ">" + n
	}
	return n
}

// peerGroup adds the organisations of a peer cell to a local sharing
// group, so that objects marked with it may leave for that peer; the peer
// learns the group from this cell when it syncs.
func peerGroup(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer group", "GROUP")
	peer := fs.String("peer", "", "the peer whose organisations join the group (required)")
	orgs := fs.String("orgs", "", "only these identity ids of the peer's organisations, comma-separated (default: all)")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	if *peer == "" {
		return fail(e, "peer group: --peer NAME is required")
	}
	c, err := openCell(ctx, e, *data)
	if err != nil {
		return fail(e, "peer group: %v", err)
	}
	defer c.Close()
	fst, err := fedStore(c.Store)
	if err != nil {
		return fail(e, "peer group: %v", err)
	}
	p, err := fst.Peer(ctx, *peer)
	if err != nil {
		return fail(e, "peer group: no peer named %q", *peer)
	}
	members := p.Orgs
	if want := splitList(*orgs); len(want) > 0 {
		for _, id := range want {
			if !slices.Contains(p.Orgs, id) {
				return fail(e, "peer group: %s is not an organisation of peer %s", id, p.Name)
			}
		}
		members = want
	}
	if len(members) == 0 {
		return fail(e, "peer group: peer %s has no known organisations (peer add --orgs)", p.Name)
	}
	g, err := c.Store.Group(ctx, pos[0])
	if err != nil {
		return fail(e, "peer group: no group named %q", pos[0])
	}
	g, err = access.AddMembers(g, members)
	if err != nil {
		return fail(e, "peer group: %v", err)
	}
	if err := c.Store.PutGroup(ctx, g); err != nil {
		return fail(e, "peer group: %v", err)
	}
	fmt.Fprintln(e.stdout, g.MarkingID)
	return 0
}
