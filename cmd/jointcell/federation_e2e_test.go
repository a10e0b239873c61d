package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/store/sqlite"
	"github.com/jointcell/jointcell/internal/taxii"
)

// The federation tests run two cells as two processes of the real binary,
// built once (on first use) into a temporary directory that TestMain
// removes.
var (
	fedBinOnce sync.Once
	fedBin     string
	fedBinErr  error
	fedBinDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fedBinDir != "" {
		os.RemoveAll(fedBinDir)
	}
	os.Exit(code)
}

func fedBinary(t testing.TB) string {
	t.Helper()
	fedBinOnce.Do(func() {
		fedBinDir, fedBinErr = os.MkdirTemp("", "jointcell-fed-bin-")
		if fedBinErr != nil {
			return
		}
		fedBin = filepath.Join(fedBinDir, "jointcell")
		out, err := exec.Command("go", "build", "-o", fedBin, ".").CombinedOutput()
		if err != nil {
			fedBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if fedBinErr != nil {
		t.Fatal(fedBinErr)
	}
	return fedBin
}

// fedCell is one cell process.
type fedCell struct {
	t     testing.TB
	name  string
	dir   string
	cmd   *exec.Cmd
	base  string // http://127.0.0.1:port of the current process
	token string // admin token
	// profiles is the URL of the process's runtime profiles when the
	// benchmarks run with profileEnv set.
	profiles string
	logMu    sync.Mutex
	log      bytes.Buffer
	exited   chan struct{}
}

var fedListening = regexp.MustCompile(`listening on (http://[^" ]+)`)

func startFedCell(t testing.TB, name, dir string) *fedCell {
	c := &fedCell{t: t, name: name, dir: dir}
	c.start()
	t.Cleanup(func() { c.kill(syscall.SIGTERM) })
	return c
}

func (c *fedCell) start() {
	t := c.t
	t.Helper()
	args := []string{"serve", "--data", c.dir, "--http", "--addr", "127.0.0.1:0", "--log-level", "info"}
	if os.Getenv(profileEnv) != "" {
		args = append(args, "--debug-addr", "127.0.0.1:0")
	}
	cmd := exec.Command(fedBinary(t), args...)
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.cmd, c.exited = cmd, make(chan struct{})
	found := make(chan string, 1)
	var wg sync.WaitGroup
	scan := func(r io.Reader) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			c.logMu.Lock()
			c.log.WriteString(line + "\n")
			c.logMu.Unlock()
			if m := fedProfiles.FindStringSubmatch(line); m != nil {
				c.logMu.Lock()
				c.profiles = m[1]
				c.logMu.Unlock()
			}
			if m := fedListening.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
			if tok, ok := strings.CutPrefix(line, "admin token (shown only once, keep it safe): "); ok {
				c.logMu.Lock()
				c.token = tok
				c.logMu.Unlock()
			}
		}
	}
	wg.Add(2)
	go scan(stdout)
	go scan(stderr)
	go func() { wg.Wait(); _ = cmd.Wait(); close(c.exited) }()
	select {
	case c.base = <-found:
	case <-c.exited:
		t.Fatalf("%s exited:\n%s", c.name, c.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen:\n%s", c.name, c.logs())
	}
}

// profileEnv names a folder: when set, the cells serve their runtime
// profiles (serve --debug-addr) and BenchmarkFederationCatchUp writes CPU
// profiles of both cells during the catch-up there (A.prof, B.prof).
const profileEnv = "JOINTCELL_BENCH_PROFILE"

var fedProfiles = regexp.MustCompile(`msg="serving runtime profiles" addr=(\S+)`)

// cpuProfile fetches a CPU profile of the cell over d into file, in the
// background; wait for the returned channel.
func (c *fedCell) cpuProfile(d time.Duration, file string) <-chan error {
	done := make(chan error, 1)
	c.logMu.Lock()
	base := c.profiles
	c.logMu.Unlock()
	go func() {
		resp, err := http.Get(fmt.Sprintf("%sprofile?seconds=%d", base, int(d.Seconds())))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil {
			err = os.WriteFile(file, b, 0o644)
		}
		done <- err
	}()
	return done
}

// adminToken is the token printed on the cell's first start.
func (c *fedCell) adminToken() string {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.token
}

func (c *fedCell) logs() string {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.log.String()
}

func (c *fedCell) kill(sig syscall.Signal) {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// cli runs a management command of the binary against the cell's folder.
func (c *fedCell) cli(args ...string) string {
	c.t.Helper()
	full := append([]string{args[0], args[1], "--data", c.dir}, args[2:]...)
	out, err := exec.Command(fedBinary(c.t), full...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		c.t.Fatalf("%s: jointcell %s: %v: %s", c.name, strings.Join(full, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

func (c *fedCell) client(t testing.TB, base, user, token string) *taxii.Client {
	cl, err := taxii.NewClient(taxii.ClientConfig{BaseURL: base, User: user, Token: token, Timeout: 10 * time.Second, StatusWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// fedProxy is a recording reverse proxy in front of one cell: the other
// cell talks to the proxy only, so that everything that crosses between
// the cells is recorded, and faults can be injected.
type fedProxy struct {
	ln      net.Listener
	srv     *http.Server
	target  atomic.Pointer[url.URL]
	drop    atomic.Bool  // answer 502 and close instead of forwarding
	tamper  atomic.Value // string: a name whose value gets altered in bodies
	mu      sync.Mutex
	wire    [][]byte // every request and response body
	crossed atomic.Int64
}

func newFedProxy(t testing.TB) *fedProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fedProxy{ln: ln}
	p.tamper.Store("")
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.target.Load())
			r.Out.Host = r.In.Host
		},
		ErrorLog: log.New(io.Discard, "", 0), // faults are the point here
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			body = p.alter(body)
			p.record(body)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
			return nil
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.drop.Load() {
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					conn.Close()
					return
				}
			}
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		body, _ := io.ReadAll(r.Body)
		body = p.alter(body)
		p.record(body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *fedProxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *fedProxy) point(base string) {
	u, _ := url.Parse(base)
	p.target.Store(u)
}

func (p *fedProxy) record(b []byte) {
	if len(b) == 0 {
		return
	}
	p.crossed.Add(1)
	p.mu.Lock()
	p.wire = append(p.wire, bytes.Clone(b))
	p.mu.Unlock()
}

// alter flips one byte of the value of the tampered name, leaving the
// JSON valid: the signature no longer matches.
func (p *fedProxy) alter(b []byte) []byte {
	name := p.tamper.Load().(string)
	if name == "" {
		return b
	}
	return bytes.ReplaceAll(b, []byte(name), []byte(strings.ToUpper(name[:1])+name[1:]))
}

func (p *fedProxy) sawAny(needles []string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var hits []string
	for _, n := range needles {
		for _, b := range p.wire {
			if bytes.Contains(b, []byte(n)) {
				hits = append(hits, n)
				break
			}
		}
	}
	return hits
}

// fedObject is an indicator produced by org, marked with refs.
func fedObject(t testing.TB, n int, name, org string, refs ...string) json.RawMessage {
	o := map[string]any{
		"type": "indicator", "spec_version": "2.1", "id": fmt.Sprintf("indicator--%08x-1111-4000-8000-%012x", n, n),
		"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
		"name": name, "pattern": fmt.Sprintf("[ipv4-addr:value = '198.51.100.%d']", n%250),
		"pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z", "created_by_ref": org,
	}
	if len(refs) > 0 {
		o["object_marking_refs"] = refs
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fedSetup is two peered cells with a recording proxy in front of each.
type fedSetup struct {
	a, b         *fedCell
	pa, pb       *fedProxy
	acmeTok      string
	bankTok      string
	telcoTok     string
	peerATok     string // the account cell A uses on B
	peerBTok     string // the account cell B uses on A
	acme, bank   string // identity ids
	telco        string
	group        string // marking id of the group spanning both cells
	intel, fromA string // collection ids
}

func orgID(t testing.TB, c *fedCell, name string) string {
	for _, line := range strings.Split(c.cli("org", "list"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == name {
			return f[1]
		}
	}
	t.Fatalf("%s: no organisation %s", c.name, name)
	return ""
}

func newFedSetup(t testing.TB, push, pull bool) *fedSetup {
	root := t.TempDir()
	s := &fedSetup{pa: newFedProxy(t), pb: newFedProxy(t)}
	s.a = startFedCell(t, "A", filepath.Join(root, "a"))
	s.b = startFedCell(t, "B", filepath.Join(root, "b"))
	s.pa.point(s.a.base)
	s.pb.point(s.b.base)

	a, b := s.a, s.b
	a.cli("org", "create", "acme")
	a.cli("org", "create", "cellb")
	s.acmeTok = a.cli("user", "create", "acme-analyst", "--org", "acme", "--role", "analyst")
	s.peerBTok = a.cli("user", "create", "peer-b", "--org", "cellb", "--role", "reader")
	s.intel = a.cli("collection", "create", "--title", "Intel", "--alias", "intel", "--read", "acme,cellb", "--write", "acme")
	s.acme = orgID(t, a, "acme")

	b.cli("org", "create", "bank")
	b.cli("org", "create", "telco")
	b.cli("org", "create", "cella")
	s.bankTok = b.cli("user", "create", "bank-reader", "--org", "bank", "--role", "reader")
	s.telcoTok = b.cli("user", "create", "telco-reader", "--org", "telco", "--role", "reader")
	s.peerATok = b.cli("user", "create", "peer-a", "--org", "cella", "--role", "analyst")
	s.fromA = b.cli("collection", "create", "--title", "From A", "--alias", "froma", "--read", "bank,telco", "--write", "cella")
	s.bank, s.telco = orgID(t, b, "bank"), orgID(t, b, "telco")

	// Peering, through the proxies; each side fetches the other's key.
	out := a.cli("peer", "add", "b", "--url", s.pb.url(), "--user", "peer-a", "--token", s.peerATok, "--account", "peer-b")
	if !strings.Contains(out, "peer cell fingerprint:") {
		t.Fatalf("peer add printed %q", out)
	}
	b.cli("peer", "add", "a", "--url", s.pa.url(), "--user", "peer-b", "--token", s.peerBTok, "--account", "peer-a")

	// A sharing group of acme (A) and bank (B).
	a.cli("group", "create", "shared", "--orgs", "acme")
	s.group = a.cli("peer", "group", "shared", "--peer", "b", "--orgs", s.bank)

	// Two paths into B's collection: A pushes and B pulls.
	if push {
		a.cli("peer", "link", "b", "--push", "intel=froma")
	}
	if pull {
		b.cli("peer", "link", "a", "--pull", "intel=froma")
	}
	return s
}

// visible returns the ids user sees in B's collection.
func (s *fedSetup) visible(t testing.TB, base, user, token, coll string) map[string]int {
	cl := s.b.client(t, base, user, token)
	ids := map[string]int{}
	err := cl.Iterate(context.Background(), coll, taxii.Filter{Limit: 1000, Versions: []string{"all"}}, func(p *taxii.ObjectsPage) error {
		for _, raw := range p.Objects {
			var o struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &o); err != nil {
				return err
			}
			ids[o.ID]++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %s as %s: %v", coll, user, err)
	}
	return ids
}

func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestFederationE2E(t *testing.T) {
	s := newFedSetup(t, true, true)
	ctx := context.Background()
	acme := s.a.client(t, s.a.base, "acme-analyst", s.acmeTok)

	recipients, err := marking.RecipientsDefinition("marking-definition--7d3c5a10-2b4e-4f6a-8c9d-0e1f2a3b4c5d", "2026-01-01T00:00:00.000Z", s.acme, []string{s.bank})
	if err != nil {
		t.Fatal(err)
	}
	recID := "marking-definition--7d3c5a10-2b4e-4f6a-8c9d-0e1f2a3b4c5d"
	type pub struct {
		n           int
		refs        []string
		bank, telco bool
	}
	pubs := []pub{
		{1, []string{marking.TLP2Clear}, true, true},
		{2, []string{marking.TLP2Green}, true, true},
		{3, []string{marking.TLP2Amber}, false, false},
		{4, []string{marking.TLP2Amber, s.group}, true, false},
		{5, []string{marking.TLP2AmberStrict}, false, false},
		{6, []string{marking.TLP2AmberStrict, s.group}, false, false},
		{7, []string{marking.TLP2Red}, false, false},
		{8, []string{marking.TLP2Red, recID}, true, false},
		{9, []string{marking.TLP2Red, s.group}, false, false},
		{10, nil, true, true}, // unmarked: GREEN
		{11, []string{marking.TLP1White}, true, true},
		{12, []string{marking.TLP1Amber, s.group}, true, false},
	}
	objs := []json.RawMessage{recipients}
	for _, p := range pubs {
		objs = append(objs, fedObject(t, p.n, fmt.Sprintf("object %d", p.n), s.acme, p.refs...))
	}
	st, err := acme.AddObjects(ctx, "intel", objs)
	if err != nil || st.SuccessCount != len(objs) {
		t.Fatalf("publish in A: %v %+v", err, st)
	}
	id := func(n int) string { return fmt.Sprintf("indicator--%08x-1111-4000-8000-%012x", n, n) }

	var wantBank, wantTelco, never []string
	for _, p := range pubs {
		if p.bank {
			wantBank = append(wantBank, id(p.n))
		}
		if p.telco {
			wantTelco = append(wantTelco, id(p.n))
		}
		if !p.bank && !p.telco {
			never = append(never, id(p.n))
		}
	}
	wantBank = append(wantBank, recID)
	wantTelco = append(wantTelco, recID)
	check := func(user, token string, want []string) bool {
		got := s.visible(t, s.b.base, user, token, "froma")
		for id, n := range got {
			if n != 1 {
				t.Fatalf("%s sees %s %d times", user, id, n)
			}
		}
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		w := slices.Clone(want)
		slices.Sort(w)
		return slices.Equal(keys, w)
	}
	if !waitUntil(30*time.Second, func() bool { return check("bank-reader", s.bankTok, wantBank) }) {
		got := s.visible(t, s.b.base, "bank-reader", s.bankTok, "froma")
		t.Logf("bank sees %v, want %v", got, wantBank)
		t.Logf("B log:\n%s", s.b.logs())
		t.Logf("A log:\n%s", s.a.logs())
		t.FailNow()
	}
	waitFor(t, 10*time.Second, "telco to see what the policy allows", func() bool { return check("telco-reader", s.telcoTok, wantTelco) })
	// Let both paths finish a few more rounds, then check nothing else
	// arrived and nothing unauthorised ever crossed.
	time.Sleep(time.Second)
	if !check("bank-reader", s.bankTok, wantBank) || !check("telco-reader", s.telcoTok, wantTelco) {
		t.Fatal("visibility changed after sync settled")
	}
	adminAll := s.visible(t, s.b.base, "admin", s.b.adminToken(), "froma")
	for _, n := range never {
		if adminAll[n] > 0 {
			t.Errorf("%s reached cell B", n)
		}
	}
	for _, p := range []*fedProxy{s.pa, s.pb} {
		if hits := p.sawAny(append(slices.Clone(never), marking.TLP2AmberStrict)); len(hits) > 0 {
			t.Errorf("crossed the wire: %v", hits)
		}
	}
	if s.pa.crossed.Load() == 0 || s.pb.crossed.Load() == 0 {
		t.Fatal("nothing went through the proxies")
	}
	// Objects are stored in B as signed by A.
	raw := s.b.client(t, s.b.base, "admin", s.b.adminToken())
	page, err := raw.GetObject(ctx, "froma", id(1), taxii.Filter{})
	if err != nil || len(page.Objects) != 1 || !bytes.Contains(page.Objects[0], []byte(`"cell":"`)) {
		t.Fatalf("stored object in B is not signed: %v %s", err, page.Objects)
	}

	if os.Getenv("FED_DEBUG") != "" {
		t.Logf("A:\n%s\nB:\n%s", s.a.logs(), s.b.logs())
	}
	t.Run("tampered in transit", func(t *testing.T) {
		s.pa.tamper.Store("tamper-me")
		s.pb.tamper.Store("tamper-me")
		obj := fedObject(t, 500, "tamper-me", s.acme, marking.TLP2Green)
		if st, err := acme.AddObjects(ctx, "intel", []json.RawMessage{obj}); err != nil || st.SuccessCount != 1 {
			t.Fatalf("publish: %v", err)
		}
		waitFor(t, 30*time.Second, "the rejection to be audited", func() bool {
			out, err := exec.Command(fedBinary(t), "audit", "show", "--data", s.b.dir, "--action", "provenance.reject").Output()
			return err == nil && strings.Contains(string(out), id(500))
		})
		if n := s.visible(t, s.b.base, "admin", s.b.adminToken(), "froma")[id(500)]; n != 0 {
			t.Fatal("a tampered object was stored")
		}
		s.pa.tamper.Store("")
		s.pb.tamper.Store("")
	})
}

// TestFederationFaults kills either cell at random moments and drops
// connections in the proxies while A publishes; afterwards everything A
// acknowledged is in B once, and the checkpoints agree with the stores.
func TestFederationFaults(t *testing.T) {
	trials := 20
	if testing.Short() {
		trials = 3
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (%d trials)", seed, trials)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	s := newFedSetup(t, true, true)
	ctx := context.Background()

	var acked []string
	n := 1000
	for trial := range trials {
		acme := s.a.client(t, s.a.base, "acme-analyst", s.acmeTok)
		stop := make(chan struct{})
		done := make(chan []string)
		prng := rand.New(rand.NewPCG(seed, uint64(trial)))
		go func() {
			var ok []string
			for {
				select {
				case <-stop:
					done <- ok
					return
				default:
				}
				var batch []json.RawMessage
				var ids []string
				for range 1 + prng.IntN(20) {
					n++
					batch = append(batch, fedObject(t, n, fmt.Sprintf("fault %d", n), s.acme, marking.TLP2Green))
					ids = append(ids, fmt.Sprintf("indicator--%08x-1111-4000-8000-%012x", n, n))
				}
				st, err := acme.AddObjects(ctx, "intel", batch)
				if err == nil && st.SuccessCount == len(batch) {
					ok = append(ok, ids...)
				}
				time.Sleep(time.Duration(prng.IntN(30)) * time.Millisecond)
			}
		}()
		time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
		fault := rng.IntN(3)
		switch fault {
		case 0: // the remote cell dies
			s.b.kill(syscall.SIGKILL)
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			s.b.start()
			s.pb.point(s.b.base)
		case 1: // the local cell dies (publishing fails meanwhile)
			s.a.kill(syscall.SIGKILL)
			time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
			s.a.start()
			s.pa.point(s.a.base)
		case 2: // the network drops connections
			s.pa.drop.Store(true)
			s.pb.drop.Store(true)
			time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
			s.pa.drop.Store(false)
			s.pb.drop.Store(false)
		}
		close(stop)
		ok := <-done
		acked = append(acked, ok...)
		t.Logf("trial %d: fault %d, %d acknowledged so far", trial, fault, len(acked))
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	var got map[string]int
	waitFor(t, 60*time.Second, "B to hold everything A acknowledged", func() bool {
		got = s.visible(t, s.b.base, "admin", s.b.adminToken(), "froma")
		for _, id := range acked {
			if got[id] == 0 {
				return false
			}
		}
		return true
	})
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s stored %d times", id, c)
		}
	}
	// Checkpoints agree with the stores once the links are idle. A link
	// that failed during the trials may still be backing off (at most
	// MaxBackoff, 5 s), so agreement is awaited, not assumed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		msg := linkMismatch(t, s)
		if msg == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Error(msg)
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// linkMismatch compares the link checkpoints with the stores: A's push
// checkpoint is the date_added of the last version in A's collection, B's
// pull checkpoint the last date_added A serves to B's account. It returns
// "" when they agree.
func linkMismatch(t *testing.T, s *fedSetup) string {
	ctx := context.Background()
	linksOf := func(dir string) []store.Link {
		db, err := sqlite.Open(ctx, filepath.Join(dir, "jointcell.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ls, err := db.ListLinks(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	lastAdded := func(base, user, token string) string {
		cl := s.a.client(t, base, user, token)
		var last string
		err := cl.Iterate(ctx, "intel", taxii.Filter{Limit: 1000, Versions: []string{"all"}}, func(p *taxii.ObjectsPage) error {
			if p.DateAddedLast != "" {
				last = p.DateAddedLast
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return last
	}
	la := linksOf(s.a.dir)
	lb := linksOf(s.b.dir)
	if len(la) != 1 || len(lb) != 1 {
		t.Fatalf("links: A %v, B %v", la, lb)
	}
	if want := lastAdded(s.a.base, "admin", s.a.adminToken()); la[0].Checkpoint != want {
		return fmt.Sprintf("A's push checkpoint %s, last date_added in A %s", la[0].Checkpoint, want)
	}
	if want := lastAdded(s.a.base, "peer-b", s.peerBTok); lb[0].Checkpoint != want {
		return fmt.Sprintf("B's pull checkpoint %s, last date_added A serves B %s", lb[0].Checkpoint, want)
	}
	return ""
}

// BenchmarkFederationLatency measures the time from an acknowledged POST
// in A to the object being visible in B, with both the push and the pull
// link in place; it reports the median and the 99th percentile.
func BenchmarkFederationLatency(b *testing.B) {
	s := newFedSetup(b, true, true)
	ctx := context.Background()
	acme := s.a.client(b, s.a.base, "acme-analyst", s.acmeTok)
	reader := s.b.client(b, s.b.base, "admin", s.b.adminToken())
	var lat []time.Duration
	b.ResetTimer()
	for i := range b.N {
		n := 100000 + i
		obj := fedObject(b, n, fmt.Sprintf("latency %d", n), s.acme, marking.TLP2Green)
		if _, err := acme.AddObjects(ctx, "intel", []json.RawMessage{obj}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		id := fmt.Sprintf("indicator--%08x-1111-4000-8000-%012x", n, n)
		for {
			p, err := reader.GetObject(ctx, "froma", id, taxii.Filter{})
			if err == nil && len(p.Objects) == 1 {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("%s never arrived", id)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkFederationCatchUp measures how fast B catches up after an
// outage: B is stopped, A receives b.N objects, B starts again and pulls
// them; it reports objects per second from B's restart to the last one
// being visible.
//
// ids=sequential numbers the objects' ids in order, as the other
// benchmarks do; ids=random scatters them over the id indexes as random
// UUIDs (which real ids are) do, so that inserts land on other B-tree
// leaves.
func BenchmarkFederationCatchUp(b *testing.B) {
	b.Run("ids=sequential", func(b *testing.B) { benchCatchUp(b, func(n int) int { return n }) })
	// A bijection of 32-bit numbers that scatters neighbours.
	b.Run("ids=random", func(b *testing.B) { benchCatchUp(b, func(n int) int { return int(uint32(n) * 2654435761) }) })
}

func benchCatchUp(b *testing.B, idOf func(int) int) {
	s := newFedSetup(b, false, true)
	ctx := context.Background()
	acme := s.a.client(b, s.a.base, "acme-analyst", s.acmeTok)
	s.b.kill(syscall.SIGTERM)
	// B pulls from A directly, not through the test's fault-injecting
	// proxy, which would take a share of the same two CPUs.
	s.b.cli("peer", "add", "a", "--url", s.a.base, "--user", "peer-b", "--token", s.peerBTok, "--account", "peer-a")
	const batch = 1000
	var last string
	for i := 0; i < b.N; i += batch {
		var objs []json.RawMessage
		for j := i; j < min(i+batch, b.N); j++ {
			n := idOf(200000 + j)
			objs = append(objs, fedObject(b, n, fmt.Sprintf("catch-up %d", n), s.acme, marking.TLP2Green))
			last = fmt.Sprintf("indicator--%08x-1111-4000-8000-%012x", n, n)
		}
		if st, err := acme.AddObjects(ctx, "intel", objs); err != nil || st.SuccessCount != len(objs) {
			b.Fatalf("publish: %v", err)
		}
	}
	// The baseline, in the same run: a plain TAXII pull of the same
	// objects from A by one of its own users (no signing, verification
	// or storing).
	pullStart := time.Now()
	pullCPU := processCPU(s.a.cmd.Process.Pid)
	pulled := 0
	err := acme.Iterate(ctx, "intel", taxii.Filter{Limit: 1000, Versions: []string{"all"}}, func(p *taxii.ObjectsPage) error {
		pulled += len(p.Objects)
		return nil
	})
	if err != nil || pulled != b.N {
		b.Fatalf("baseline pull: %d objects, %v", pulled, err)
	}
	pullRate := float64(pulled) / time.Since(pullStart).Seconds()
	// A's CPU per object for that plain pull: the floor of what A spends
	// serving a peer (reported at the end: ResetTimer drops metrics).
	pullA := -1.0
	if ac := processCPU(s.a.cmd.Process.Pid); ac >= 0 && pullCPU >= 0 {
		pullA = float64((ac - pullCPU).Microseconds()) / float64(b.N)
	}
	b.ResetTimer()
	start := time.Now()
	aCPU := processCPU(s.a.cmd.Process.Pid)
	s.b.start()
	if dir := os.Getenv(profileEnv); dir != "" {
		// Profiles of the first seconds of the catch-up: choose a
		// backlog that lasts longer.
		pa := s.a.cpuProfile(3*time.Second, filepath.Join(dir, "A.prof"))
		pb := s.b.cpuProfile(3*time.Second, filepath.Join(dir, "B.prof"))
		defer func() {
			if err := errors.Join(<-pa, <-pb); err != nil {
				b.Errorf("profiles: %v", err)
			}
		}()
	}
	reader := s.b.client(b, s.b.base, "admin", s.b.adminToken())
	for {
		p, err := reader.GetObject(ctx, "froma", last, taxii.Filter{})
		if err == nil && len(p.Objects) == 1 {
			break
		}
		if time.Since(start) > 5*time.Minute {
			l := s.b.logs()
			b.Fatalf("catch-up did not finish; B's log ends:\n%s", l[max(0, len(l)-4000):])
		}
		// Each poll is a TAXII request B serves on the same two CPUs:
		// 10 ms bounds the error to under 1 % of a one-second catch-up.
		time.Sleep(10 * time.Millisecond)
	}
	b.StopTimer()
	elapsed := time.Since(start)
	// CPU time of each cell per object: steadier than wall time on a
	// loaded machine (B's includes its start and the reader's polls).
	if ac, bc := processCPU(s.a.cmd.Process.Pid), processCPU(s.b.cmd.Process.Pid); ac >= 0 && bc >= 0 && aCPU >= 0 {
		b.ReportMetric(float64((ac-aCPU).Microseconds())/float64(b.N), "A-cpu-µs/obj")
		b.ReportMetric(float64(bc.Microseconds())/float64(b.N), "B-cpu-µs/obj")
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "objects/s")
	// B's peak resident memory: what a catch-up holds (pages fetched
	// ahead and merged) on top of the cell.
	if mb := peakRSSMB(s.b.cmd.Process.Pid); mb > 0 {
		b.ReportMetric(mb, "B-peak-MB")
	}
	// B logs one "pulled" line per transaction it writes: how many
	// objects a write carried shows whether waiting pages were merged.
	if writes := strings.Count(s.b.logs(), "msg=pulled "); writes > 0 {
		b.ReportMetric(float64(b.N)/float64(writes), "objects/write")
	}
	b.ReportMetric(pullRate, "pull-objects/s")
	if pullA >= 0 {
		b.ReportMetric(pullA, "pull-A-cpu-µs/obj")
	}
}

// processCPU returns the user and system CPU time a process has used so
// far, from /proc (Linux), or -1 where that cannot be read.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// fields 14 and 15 (utime, stime) count from after its closing one.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	var ticks int64
	for _, s := range f[11:13] {
		var n int64
		if _, err := fmt.Sscan(s, &n); err != nil {
			return -1
		}
		ticks += n
	}
	// USER_HZ is 100 on every Linux architecture Go supports.
	return time.Duration(ticks) * 10 * time.Millisecond
}

// peakRSSMB returns the peak resident set of a process in MiB (VmHWM,
// Linux), or -1 where it cannot be read.
func peakRSSMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb float64
			if _, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kb); err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}

func waitUntil(d time.Duration, f func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if f() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
