package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"strings"
	"testing"

	jcell "github.com/jointcell/jointcell/internal/cell"
)

// peerFolder is a closed cell data folder with a collection "intel" and
// a pinned peer "b" (no network needed: its key is given).
func peerFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	c, err := jcell.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	e2eCLI(t, "collection", "create", "--data", dir, "--title", "Intel", "--alias", "intel")
	e2eCLI(t, "collection", "create", "--data", dir, "--title", "Other", "--alias", "other")
	key := hex.EncodeToString(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey))
	out := e2eCLI(t, "peer", "add", "--data", dir, "b", "--url", "https://127.0.0.1:1/", "--user", "peer-a",
		"--token", "tok-SECRET", "--peer-key", key, "--orgs", "identity--b")
	if !strings.Contains(out, "peer cell fingerprint:") || !strings.Contains(out, "local cell fingerprint:") {
		t.Fatalf("peer add printed %q", out)
	}
	e2eCLI(t, "peer", "add", "--data", dir, "misp", "--url", "https://127.0.0.1:1/taxii2/", "--token", "tok-SECRET", "--foreign")
	return dir
}

// peerLinks returns the LINKS column of peer list by peer name.
func peerLinks(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := e2eCLI(t, "peer", "list", "--data", dir)
	if strings.Contains(out, "tok-SECRET") {
		t.Errorf("peer list shows the token:\n%s", out)
	}
	links := map[string]string{}
	for _, line := range strings.Split(out, "\n")[1:] {
		f := strings.Fields(line)
		links[f[0]] = f[len(f)-1]
	}
	return links
}

func TestPeerUnlinkRemove(t *testing.T) {
	dir := peerFolder(t)
	e2eCLI(t, "peer", "link", "--data", dir, "b", "--push", "intel=froma", "--pull", "tob=other", "--push", "other=froma")
	e2eCLI(t, "peer", "link", "--data", dir, "misp", "--pull", "feed=intel")
	if got := peerLinks(t, dir); got["b"] != "3" || got["misp"] != "1" {
		t.Fatalf("links per peer = %v, want b 3, misp 1", got)
	}

	e2eCLI(t, "peer", "unlink", "--data", dir, "b", "--push", "intel=froma", "--pull", "tob=other")
	if got := peerLinks(t, dir); got["b"] != "1" || got["misp"] != "1" {
		t.Fatalf("links after unlink = %v, want b 1, misp 1", got)
	}
	status := e2eCLI(t, "peer", "status", "--data", dir)
	if lines := strings.Split(status, "\n"); len(lines) != 3 || strings.Contains(status, "tok-SECRET") {
		t.Errorf("peer status after unlink:\n%s", status)
	}

	// Bad input: one line on stderr, a non-zero exit, nothing changed.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"unlink", "nope", "--push", "other=froma"}, 1, `no peer named "nope"`},
		{[]string{"unlink", "b", "--push", "intel=froma"}, 1, "peer b has no link push intel=froma"},
		{[]string{"unlink", "b", "--pull", "froma=other"}, 1, "peer b has no link pull froma=other"},
		{[]string{"unlink", "misp", "--push", "other=froma"}, 1, "peer misp has no link"},
		{[]string{"unlink", "b", "--push", "other"}, 1, `--push "other": want LOCAL=REMOTE`},
		{[]string{"unlink", "b", "--pull", "=other"}, 1, `--pull "=other": want REMOTE=LOCAL`},
		{[]string{"unlink", "b", "--push", "other="}, 1, "want LOCAL=REMOTE"},
		{[]string{"unlink", "b"}, 1, "give --push LOCAL=REMOTE or --pull REMOTE=LOCAL"},
		{[]string{"unlink", "--push", "other=froma"}, 2, "want 1 argument"},
		{[]string{"link", "b", "--push", "intel"}, 1, "want LOCAL=REMOTE"},
		{[]string{"link", "b", "--push", "intel=x", "--push", "ghost=x"}, 1, `no local collection "ghost"`},
		{[]string{"link", "nope", "--push", "intel=x"}, 1, `no peer named "nope"`},
		{[]string{"remove", "nope"}, 1, `no peer named "nope"`},
		{[]string{"remove"}, 2, "want 1 argument"},
		{[]string{"remove", "b", "misp"}, 2, "want 1 argument"},
	} {
		args := append([]string{"peer", tc.args[0], "--data", dir}, tc.args[1:]...)
		code, _, errOut := e2eRun(args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("jointcell %s: exit %d, stderr %q; want exit %d and one line with %q", strings.Join(args, " "), code, errOut, tc.code, tc.want)
		}
	}
	if got := peerLinks(t, dir); got["b"] != "1" || got["misp"] != "1" {
		t.Fatalf("links after failed commands = %v, want b 1, misp 1 (a failed link adds none)", got)
	}

	// Removing a peer takes its links with it, and only its own.
	e2eCLI(t, "peer", "remove", "--data", dir, "b")
	got := peerLinks(t, dir)
	if _, ok := got["b"]; ok || got["misp"] != "1" {
		t.Fatalf("peers after remove = %v, want misp alone with its link", got)
	}
	if status := e2eCLI(t, "peer", "status", "--data", dir); strings.Contains(status, "\nb ") || !strings.Contains(status, "misp") {
		t.Errorf("peer status after remove:\n%s", status)
	}
	if code, _, errOut := e2eRun("peer", "remove", "--data", dir, "b"); code != 1 || !strings.Contains(errOut, `no peer named "b"`) {
		t.Errorf("second remove: exit %d, %q", code, errOut)
	}
	if code, _, errOut := e2eRun("peer", "link", "--data", dir, "b", "--push", "intel=froma"); code != 1 || !strings.Contains(errOut, `no peer named "b"`) {
		t.Errorf("link to a removed peer: exit %d, %q", code, errOut)
	}
}

// TestPeerAddErrors keeps the flag errors of peer add in the flags' words,
// given before the data folder is even opened.
func TestPeerAddErrors(t *testing.T) {
	missing := t.TempDir() + "/no-cell"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"b", "--token", "t"}, "--url URL is required"},
		{[]string{"b", "--url", "https://b.example"}, "--token TOKEN is required"},
		{[]string{"b", "--url", "https://b.example", "--token", "t", "--ca", "x.pem", "--insecure"}, "--ca and --insecure exclude each other"},
		{[]string{"b", "--url", "https://b.example", "--token", "t", "--foreign", "--peer-key", "00"}, "--foreign and --peer-key exclude each other"},
		{[]string{"b|c", "--url", "https://b.example", "--token", "t", "--foreign"}, "must not contain"},
		{[]string{"b", "--url", "ftp://b.example", "--token", "t", "--foreign"}, "http or https URL"},
		{[]string{"b", "--url", "https://b.example", "--token", "t", "--foreign", "--orgs", "bank"}, `"bank" is not an identity id`},
		{[]string{"b", "--url", "https://b.example", "--token", "t", "--peer-key", "00"}, "32-byte ed25519 public key in hex"},
		{[]string{"b", "--url", "https://b.example", "--token", "t", "--foreign"}, "is not a cell's data folder"},
	} {
		args := append([]string{"peer", "add", "--data", missing}, tc.args...)
		code, out, errOut := e2eRun(args...)
		if code != 1 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("jointcell %s: exit %d, stderr %q; want exit 1 and %q", strings.Join(args, " "), code, errOut, tc.want)
		}
	}
	dir := peerFolder(t)
	if code, _, errOut := e2eRun("peer", "add", "--data", dir, "c", "--url", "https://b.example", "--token", "t", "--foreign", "--account", "ghost"); code != 1 || !strings.Contains(errOut, "account ghost: no such user") {
		t.Errorf("unknown account: exit %d, %q", code, errOut)
	}
	// Adding a name again replaces the peer, as before, keeping its links.
	e2eCLI(t, "peer", "link", "--data", dir, "misp", "--pull", "feed=intel")
	e2eCLI(t, "peer", "add", "--data", dir, "misp", "--url", "https://127.0.0.1:2/taxii2/", "--token", "t2", "--foreign")
	if got := peerLinks(t, dir); got["misp"] != "1" {
		t.Errorf("links of a replaced peer = %v, want misp 1", got)
	}
}
