package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jointcell/jointcell/internal/access"
	"github.com/jointcell/jointcell/internal/admin"
	jcell "github.com/jointcell/jointcell/internal/cell"
	"github.com/jointcell/jointcell/internal/federation"
	"github.com/jointcell/jointcell/internal/store"
)

// cmdPeer manages federation peers: jointcell peer
// add|link|unlink|remove|list|status|group. The operations themselves are
// federation.Peers, which the admin API calls too; this file only parses
// flags and prints.
func cmdPeer(ctx context.Context, e *env, args []string) int {
	return subcommands(ctx, e, "peer", args, map[string]func(context.Context, *env, []string) int{
		"add":    peerAdd,
		"link":   peerLink,
		"unlink": peerUnlink,
		"remove": peerRemove,
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

// openPeers opens the cell in dir and its peer management; close the
// cell when done.
func openPeers(ctx context.Context, e *env, dir string) (*jcell.Cell, *federation.Peers, error) {
	c, err := openCell(ctx, e, dir)
	if err != nil {
		return nil, nil, err
	}
	fst, err := fedStore(c.Store)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, federation.NewPeers(fst, c.Key, nil), nil
}

// adminPeers is the peer management the admin API offers (serve.go), nil
// when the cell's store does not support federation.
func adminPeers(c *jcell.Cell) admin.PeerManager {
	fst, err := fedStore(c.Store)
	if err != nil {
		return nil
	}
	return federation.NewPeers(fst, c.Key, nil)
}

// peerAdd stores a peer after fetching its key (or pinning --peer-key)
// and prints both fingerprints for an out-of-band check. An existing peer
// of the same name is replaced, keeping its links.
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
	spec := federation.PeerSpec{Name: pos[0], URL: *url, User: *user, Token: *token, CAFile: *ca, Insecure: *insecure,
		PeerKey: *peerKey, Orgs: splitList(*orgs), Account: *account, Foreign: *foreign, Replace: true}
	// Flag mistakes are reported in the flags' own words, before the cell
	// is opened; Validate then checks the rest of what needs no store.
	switch {
	case *url == "":
		return fail(e, "peer add: --url URL is required")
	case *token == "":
		return fail(e, "peer add: --token TOKEN is required")
	case *ca != "" && *insecure:
		return fail(e, "peer add: --ca and --insecure exclude each other")
	case *foreign && *peerKey != "":
		return fail(e, "peer add: --foreign and --peer-key exclude each other")
	}
	if err := spec.Validate(); err != nil {
		return fail(e, "peer add: %v", err)
	}
	c, peers, err := openPeers(ctx, e, *data)
	if err != nil {
		return fail(e, "peer add: %v", err)
	}
	defer c.Close()
	added, err := peers.AddPeer(ctx, spec)
	detail := "add or replace peer at " + strconv.Quote(*url)
	if err == nil && added.Peer.Foreign() {
		detail += ", foreign (unsigned)"
	} else if err == nil {
		detail += ", fingerprint " + added.Peer.Fingerprint
	}
	err = audited(ctx, e, c, "peer:"+pos[0], detail, err)
	if errors.Is(err, federation.ErrUnreachable) {
		return fail(e, "peer add: %v (use --foreign for a TAXII server that is not a jointcell cell)", err)
	}
	if err != nil {
		return fail(e, "peer add: %v", err)
	}
	fmt.Fprintf(e.stdout, "local cell fingerprint: %s\n", added.LocalFingerprint)
	if !added.Peer.Foreign() {
		fmt.Fprintf(e.stdout, "peer cell fingerprint:  %s\n", added.Peer.Fingerprint)
	} else {
		fmt.Fprintln(e.stdout, "peer cell fingerprint:  none (foreign TAXII server: objects accepted unsigned)")
	}
	fmt.Fprintln(e.stdout, "compare both with the peer's operator over another channel")
	return 0
}

// linkFlags adds the repeatable --push LOCAL=REMOTE and --pull
// REMOTE=LOCAL flags of peer link and peer unlink; the returned function
// gives the links they name, or an error naming the malformed one.
func linkFlags(fs *flag.FlagSet, verb string) func() ([]federation.LinkSpec, error) {
	var specs []federation.LinkSpec
	var bad error
	add := func(dir string, localFirst bool) func(string) error {
		return func(v string) error {
			a, b, ok := strings.Cut(v, "=")
			if !ok || a == "" || b == "" {
				if bad == nil {
					want := "LOCAL=REMOTE"
					if !localFirst {
						want = "REMOTE=LOCAL"
					}
					bad = fmt.Errorf("--%s %q: want %s", dir, v, want)
				}
				return nil
			}
			s := federation.LinkSpec{Direction: dir, Local: a, Remote: b}
			if !localFirst {
				s.Local, s.Remote = b, a
			}
			specs = append(specs, s)
			return nil
		}
	}
	fs.Func("push", "LOCAL_COLLECTION=REMOTE_COLLECTION: "+verb+" sending what is added locally (repeatable)", add(store.Push, true))
	fs.Func("pull", "REMOTE_COLLECTION=LOCAL_COLLECTION: "+verb+" fetching what the peer adds (repeatable)", add(store.Pull, false))
	return func() ([]federation.LinkSpec, error) {
		if bad != nil {
			return nil, bad
		}
		if len(specs) == 0 {
			return nil, errors.New("give --push LOCAL=REMOTE or --pull REMOTE=LOCAL")
		}
		return specs, nil
	}
}

// peerLink adds push and pull links between collections: all of them, or
// none when one is wrong.
func peerLink(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer link", "NAME")
	links := linkFlags(fs, "start")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	specs, err := links()
	if err != nil {
		return fail(e, "peer link: %v", err)
	}
	c, peers, err := openPeers(ctx, e, *data)
	if err != nil {
		return fail(e, "peer link: %v", err)
	}
	defer c.Close()
	_, err = peers.Link(ctx, pos[0], specs...)
	if err := audited(ctx, e, c, "peer:"+pos[0], "link "+linkList(specs), err); err != nil {
		return fail(e, "peer link: %v", err)
	}
	return 0
}

// peerUnlink removes push and pull links, named as peer link names them:
// all of them, or none when one does not exist.
func peerUnlink(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer unlink", "NAME")
	links := linkFlags(fs, "stop")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	specs, err := links()
	if err != nil {
		return fail(e, "peer unlink: %v", err)
	}
	c, peers, err := openPeers(ctx, e, *data)
	if err != nil {
		return fail(e, "peer unlink: %v", err)
	}
	defer c.Close()
	_, err = peers.Unlink(ctx, pos[0], specs...)
	if err := audited(ctx, e, c, "peer:"+pos[0], "unlink "+linkList(specs), err); err != nil {
		return fail(e, "peer unlink: %v", err)
	}
	return 0
}

// peerRemove removes a peer and its links; what it delivered stays.
func peerRemove(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer remove", "NAME")
	pos, code := parseArgs(e, fs, args, 1)
	if code >= 0 {
		return code
	}
	c, peers, err := openPeers(ctx, e, *data)
	if err != nil {
		return fail(e, "peer remove: %v", err)
	}
	defer c.Close()
	pi, err := peers.RemovePeer(ctx, pos[0])
	detail := "remove peer"
	if err == nil {
		detail += " and its " + strconv.Itoa(len(pi.Links)) + " link(s)"
	}
	if err := audited(ctx, e, c, "peer:"+pos[0], detail, err); err != nil {
		return fail(e, "peer remove: %v", err)
	}
	return 0
}

func peerList(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer list", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, peers, err := openPeers(ctx, e, *data)
	if err != nil {
		return fail(e, "peer list: %v", err)
	}
	defer c.Close()
	ps, err := peers.Peers(ctx)
	if err != nil {
		return fail(e, "peer list: %v", err)
	}
	tw := table(e.stdout, "NAME", "URL", "FINGERPRINT", "ORGS", "ACCOUNT", "LINKS")
	for _, p := range ps {
		fp := "unsigned"
		if !p.Foreign() {
			fp = p.Fingerprint[:16]
		}
		row(tw, p.Name, p.URL, fp, fmt.Sprint(len(p.Orgs)), dash(p.Account), fmt.Sprint(len(p.Links)))
	}
	return flushTable(e, tw)
}

// peerStatus shows every link: last success, lag, backlog, last error
// (federation.Peers.Status says what each means).
func peerStatus(ctx context.Context, e *env, args []string) int {
	fs, data := manageFlags(e, "peer status", "")
	if _, code := parseArgs(e, fs, args, 0); code >= 0 {
		return code
	}
	c, peers, err := openPeers(ctx, e, *data)
	if err != nil {
		return fail(e, "peer status: %v", err)
	}
	defer c.Close()
	sts, err := peers.Status(ctx, "")
	if err != nil {
		return fail(e, "peer status: %v", err)
	}
	tw := table(e.stdout, "PEER", "DIRECTION", "LOCAL", "REMOTE", "LAST-SUCCESS", "LAG", "BACKLOG", "SYNCED", "CHECKPOINT", "LAST-ERROR")
	for _, st := range sts {
		l := st.Link
		lag, backlog := "-", "?"
		if st.HasLag {
			lag = st.Lag.Truncate(time.Millisecond).String()
		}
		if st.HasBacklog {
			backlog = fmt.Sprint(st.Backlog)
			if st.BacklogMore {
				backlog = ">" + backlog
			}
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
	err = c.Store.PutGroup(ctx, g)
	if err := audited(ctx, e, c, "group:"+pos[0], "add members "+strings.Join(members, ",")+" of peer "+p.Name, err); err != nil {
		return fail(e, "peer group: %v", err)
	}
	fmt.Fprintln(e.stdout, g.MarkingID)
	return 0
}

// linkList names links for an audit entry, as the admin API names one.
func linkList(specs []federation.LinkSpec) string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.String()
	}
	return strings.Join(names, ", ")
}
