package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
	"github.com/jointcell/jointcell/internal/taxii"
)

// maxAttempts is how often a batch with transient rejections (a signature
// broken in transit) is fetched or sent again before the link moves on,
// so that one bad object cannot stall a link for ever.
const maxAttempts = 5

// Run runs the sync loops until ctx is cancelled: one goroutine per link,
// started and stopped as links appear and disappear (the CLI adds them
// while the server runs), plus the refresh of the groups peers share.
func (s *Service) Run(ctx context.Context) error {
	type worker struct{ cancel context.CancelFunc }
	workers := map[string]worker{}
	var wg sync.WaitGroup
	defer func() {
		for _, w := range workers {
			w.cancel()
		}
		wg.Wait()
	}()
	groupsAt := map[string]time.Time{}
	urgent := map[string]bool{} // peers whose groups an object is waiting for
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		sn, err := s.reload(ctx)
		var links []store.Link
		if err == nil {
			links, err = s.cfg.Store.ListLinks(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.log.Error("load links", "err", err)
		} else {
			seen := map[string]bool{}
			for _, l := range links {
				k := l.Key()
				seen[k] = true
				if _, ok := workers[k]; ok {
					continue
				}
				wctx, cancel := context.WithCancel(ctx)
				workers[k] = worker{cancel: cancel}
				wg.Add(1)
				go func(l store.Link) {
					defer wg.Done()
					s.runLink(wctx, l)
				}(l)
			}
			for k, w := range workers {
				if !seen[k] {
					w.cancel()
					delete(workers, k)
				}
			}
			s.dropClients(sn)
			for name, p := range sn.peers {
				since := time.Since(groupsAt[name])
				if p.PublicKey == nil || p.URL == "" || since < time.Second || (!urgent[name] && since < 10*time.Second) {
					continue
				}
				delete(urgent, name)
				groupsAt[name] = time.Now()
				if err := s.SyncGroups(ctx, name); err != nil && ctx.Err() == nil {
					s.log.Debug("sync groups", "peer", name, "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case name := <-s.groupsWanted:
			// At most once a second per peer, however many objects ask.
			urgent[name] = true
		}
	}
}

// SyncGroups fetches the sharing groups peer shares with this cell and
// installs them.
func (s *Service) SyncGroups(ctx context.Context, peer string) error {
	sn, err := s.load(ctx)
	if err != nil {
		return err
	}
	p, ok := sn.peers[peer]
	if !ok {
		return fmt.Errorf("federation: no peer %q: %w", peer, store.ErrNotFound)
	}
	hc, err := s.httpClient(p)
	if err != nil {
		return err
	}
	defer hc.CloseIdleConnections() // a client of its own, dropped after
	token, err := OpenToken(s.cfg.Key, p.Token)
	if err != nil {
		return err
	}
	info, err := FetchInfo(ctx, hc, p.URL, p.User, token)
	if err != nil {
		return err
	}
	n, err := s.installGroups(ctx, sn, p, info.Groups)
	if n > 0 {
		s.log.Info("installed sharing groups from peer", "peer", peer, "groups", n)
	}
	return err
}

// FetchInfo asks a cell who it is (GET /federation/info/).
func FetchInfo(ctx context.Context, hc *http.Client, baseURL, user, token string) (Info, error) {
	u := strings.TrimSuffix(baseURL, "/")
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '/'); j >= 0 {
			u = u[:i+3+j] // the server root: the info path is absolute
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+InfoPath, nil)
	if err != nil {
		return Info{}, fmt.Errorf("federation: info: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if user != "" {
		req.SetBasicAuth(user, token)
	} else if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Info{}, fmt.Errorf("federation: info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Info{}, fmt.Errorf("federation: info: %s answered %s", u+InfoPath, resp.Status)
	}
	var info Info
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 16<<20)).Decode(&info); err != nil {
		return Info{}, fmt.Errorf("federation: info: %w", err)
	}
	return info, nil
}

// HTTPClient builds the HTTP client for a peer's TLS settings.
func HTTPClient(caFile string, insecure bool, timeout time.Duration) (*http.Client, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // opt-in for self-signed test peers
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("federation: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("federation: %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

func (s *Service) httpClient(p store.Peer) (*http.Client, error) {
	return HTTPClient(p.CAFile, p.Insecure, s.cfg.ClientTimeout)
}

// peerClient is the TAXII client of a peer, kept between sync rounds so
// that its connections are reused (pullers poll several times a second),
// with the peer's max_content_length as last read.
type peerClient struct {
	conf    string // the peer settings the client was built from
	c       *taxii.Client
	limit   int64
	limitAt time.Time
}

// limitTTL is how long a peer's max_content_length is trusted.
const limitTTL = 5 * time.Minute

// client returns the TAXII client of a peer, built anew when the peer's
// settings have changed.
func (s *Service) client(p store.Peer) (*taxii.Client, error) {
	conf := strings.Join([]string{p.URL, p.User, string(p.Token), p.CAFile, fmt.Sprint(p.Insecure)}, "\x00")
	s.mu.Lock()
	pc := s.clients[p.Name]
	s.mu.Unlock()
	if pc != nil && pc.conf == conf {
		return pc.c, nil
	}
	token, err := OpenToken(s.cfg.Key, p.Token)
	if err != nil {
		return nil, err
	}
	c, err := taxii.NewClient(taxii.ClientConfig{
		BaseURL: p.URL, User: p.User, Token: token, CAFile: p.CAFile, Insecure: p.Insecure,
		Timeout: s.cfg.ClientTimeout, StatusWait: 30 * time.Second, UserAgent: "jointcell-federation",
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.clients == nil {
		s.clients = map[string]*peerClient{}
	}
	if old := s.clients[p.Name]; old != nil {
		old.c.CloseIdleConnections()
	}
	s.clients[p.Name] = &peerClient{conf: conf, c: c}
	s.mu.Unlock()
	return c, nil
}

// dropClients forgets the clients of peers that are gone.
func (s *Service) dropClients(sn *snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, pc := range s.clients {
		if _, ok := sn.peers[name]; !ok {
			pc.c.CloseIdleConnections()
			delete(s.clients, name)
		}
	}
}

// maxContentLength returns the largest request body the peer accepts
// (its API root's max_content_length, TAXII 2.1 §4.2), asked at most every
// limitTTL.
func (s *Service) maxContentLength(ctx context.Context, p store.Peer, c *taxii.Client) (int64, error) {
	s.mu.Lock()
	pc := s.clients[p.Name]
	fresh := pc != nil && pc.c == c && pc.limit > 0 && time.Since(pc.limitAt) < limitTTL
	s.mu.Unlock()
	if fresh {
		return pc.limit, nil
	}
	root, err := c.APIRoot(ctx)
	if err != nil {
		return 0, err
	}
	limit := root.MaxContentLength
	if limit <= 0 {
		limit = taxii.DefaultMaxContentLength
	}
	s.mu.Lock()
	if pc != nil && pc.c == c {
		pc.limit, pc.limitAt = limit, time.Now()
	}
	s.mu.Unlock()
	return limit, nil
}

// runLink syncs one link until ctx ends, retrying with exponential
// backoff and jitter.
func (s *Service) runLink(ctx context.Context, l store.Link) {
	log := s.log.With("peer", l.Peer, "direction", l.Direction, "local", l.Local, "remote", l.Remote)
	log.Info("sync link started")
	var wake chan struct{}
	if l.Direction == store.Push {
		wake = s.subscribe()
		defer s.unsubscribe(wake)
	}
	fails, attempts := 0, 0
	for {
		var (
			more bool
			err  error
		)
		if l.Direction == store.Pull {
			more, err = s.pullOnce(ctx, l, &attempts)
		} else {
			more, err = s.pushOnce(ctx, l, &attempts)
		}
		if ctx.Err() != nil {
			return
		}
		wait := s.cfg.PollInterval
		if l.Direction == store.Push {
			wait = 5 * s.cfg.PollInterval
		}
		if err != nil {
			fails++
			if s.m.errors != nil {
				s.m.errors.Inc(l.Peer, l.Direction)
			}
			wait = min(s.cfg.MaxBackoff, s.cfg.PollInterval<<min(fails, 10))
			wait = wait/2 + rand.N(wait/2+1)
			if fails == 1 || fails%10 == 0 {
				log.Warn("sync failed; retrying", "err", err, "attempt", fails, "wait", wait)
			} else {
				log.Debug("sync failed; retrying", "err", err, "attempt", fails, "wait", wait)
			}
			s.noteError(ctx, l, err)
		} else {
			fails = 0
			if more {
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-time.After(wait):
		}
	}
}

// link reloads the stored state of l.
func (s *Service) link(ctx context.Context, l store.Link) (store.Link, error) {
	links, err := s.cfg.Store.ListLinks(ctx)
	if err != nil {
		return l, fmt.Errorf("federation: %w", err)
	}
	for _, x := range links {
		if x.Key() == l.Key() {
			return x, nil
		}
	}
	return l, fmt.Errorf("federation: link %s: %w", l.Key(), store.ErrNotFound)
}

func (s *Service) noteError(ctx context.Context, l store.Link, cause error) {
	cur, err := s.link(ctx, l)
	if err != nil {
		return
	}
	cur.LastError = cause.Error()
	if len(cur.LastError) > 500 {
		cur.LastError = cur.LastError[:500]
	}
	cur.LastErrorAt = s.cfg.Now()
	if err := s.cfg.Store.UpdateLink(ctx, cur); err != nil && ctx.Err() == nil {
		s.log.Error("record link error", "link", l.Key(), "err", err)
	}
}

// errTransient stops a pull after a page with objects whose signature
// broke in transit: the page is fetched again.
var errTransient = errors.New("objects failed verification; fetching again")

// pullOnce fetches everything the peer added after the checkpoint, page by
// page, each page stored with its checkpoint in one transaction. It
// reports whether it stopped early with more to fetch.
func (s *Service) pullOnce(ctx context.Context, l store.Link, attempts *int) (bool, error) {
	sn, err := s.load(ctx)
	if err != nil {
		return false, err
	}
	p, ok := sn.peers[l.Peer]
	if !ok {
		return false, fmt.Errorf("federation: peer %q is gone", l.Peer)
	}
	cur, err := s.link(ctx, l)
	if err != nil {
		return false, err
	}
	coll, err := s.cfg.Store.Collection(ctx, cur.Local)
	if err != nil {
		return false, fmt.Errorf("federation: local collection %s: %w", cur.Local, err)
	}
	c, err := s.client(p)
	if err != nil {
		return false, err
	}
	f := taxii.Filter{AddedAfter: cur.Checkpoint, Limit: s.cfg.PageSize, Versions: []string{"all"}}
	// Three stages run side by side: page n+2 is fetched (the peer serves
	// it, the network carries it) while page n+1 is checked on every core
	// and page n is written. Only the writing stage moves the checkpoint,
	// so a page fetched or checked ahead and dropped on an error is simply
	// fetched again. The checking stage also makes the page's store
	// lookups (provenance, history), so that the writing stage only
	// writes; they are made after page n-1 was written, and the writing
	// stage makes them again for a page that shares an object with page
	// n, the one page they may have missed.
	remote := cur.Remote // cur belongs to the writing goroutine from here
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	//
	// When the writing stage is the slower one (a catch-up), pages that
	// wait for it are merged, up to mergePages of them, and stored in one
	// transaction: as one larger page would be, with the checkpoint of the
	// last. A SQLite transaction costs much less per object when it is
	// larger (the id indexes' leaves it changes are shared), and the
	// fetcher runs that many pages ahead to make it possible. Alone, a
	// page is written as soon as it is checked.
	pages := make(chan *taxii.ObjectsPage, mergePages-1)
	checked := make(chan *pulledPage)
	go func() {
		defer close(checked)
		for page := range pages {
			raws, last := mergeWaiting(page, pages)
			pg := s.checkPage(sn, raws, last)
			if lk, err := s.lookup(ctx, coll, pg.objs); err == nil {
				pg.lk = lk
			}
			select {
			case checked <- pg:
			case <-fetchCtx.Done():
			}
		}
	}()
	stored := make(chan error, 1)
	go func() {
		var err error
		cur, err = s.writePages(ctx, sn, p, coll, cur, checked, attempts)
		if err != nil {
			stopFetch()
			for range checked {
				// Drain what was checked ahead: it is fetched again.
			}
		}
		stored <- err
	}()
	ferr := c.Iterate(fetchCtx, remote, f, func(page *taxii.ObjectsPage) error {
		select {
		case pages <- page:
			return nil
		case <-fetchCtx.Done():
			return fetchCtx.Err()
		}
	})
	close(pages)
	if err := <-stored; err != nil {
		return false, fmt.Errorf("federation: pull %s from %s: %w", l.Remote, l.Peer, err)
	}
	if ferr != nil {
		return false, fmt.Errorf("federation: pull %s from %s: %w", l.Remote, l.Peer, ferr)
	}
	return false, nil
}

// mergePages is how many waiting pages a pull merges into one write, and
// mergeBytes the size past which it merges no more: large objects make
// large pages, and a merged write is held in memory whole.
const (
	mergePages = 4
	mergeBytes = 32 << 20
)

// mergeWaiting returns the objects of page and of the pages already
// waiting in pages after it (up to mergePages in all, while they hold
// less than mergeBytes), and the X-TAXII-Date-Added-Last to checkpoint
// after them: the last one given.
func mergeWaiting(page *taxii.ObjectsPage, pages <-chan *taxii.ObjectsPage) ([]json.RawMessage, string) {
	raws, last := page.Objects, page.DateAddedLast
	size := 0
	for _, r := range raws {
		size += len(r)
	}
	for n := 1; n < mergePages && size < mergeBytes; n++ {
		var next *taxii.ObjectsPage
		select {
		case next = <-pages:
		default:
		}
		if next == nil {
			break // none waiting, or the fetch is over
		}
		raws = append(raws[:len(raws):len(raws)], next.Objects...)
		for _, r := range next.Objects {
			size += len(r)
		}
		if next.DateAddedLast != "" {
			last = next.DateAddedLast
		}
	}
	return raws, last
}

// writePages is the writing stage of a pull: it writes the checked pages
// in order until one fails, and returns the link as last stored. A page
// whose lookups were made ahead (pullOnce) and that shares an object with
// the page written just before it has them made again, since they may
// predate that page.
func (s *Service) writePages(ctx context.Context, sn *snapshot, p store.Peer, coll store.Collection, cur store.Link, checked <-chan *pulledPage, attempts *int) (store.Link, error) {
	var prev map[string]struct{} // ids of the page written last
	for pg := range checked {
		if pg.lk != nil && pg.touches(prev) {
			pg.lk = nil
		}
		var err error
		if cur, err = s.commitPage(ctx, sn, p, coll, cur, pg, attempts); err != nil {
			return cur, err
		}
		prev = pg.ids()
	}
	return cur, nil
}

// pulledPage is a page pulled from a peer whose pure checks (decoding,
// STIX validation, provenance signatures) are done: what commitPage needs
// to admit and store it.
type pulledPage struct {
	start         time.Time
	n             int // objects in the page as served
	objs          []stix.Object
	pre           []verification
	rejects       []*Rejection // objects that are not STIX at all
	dateAddedLast string
	// lk holds the page's store lookups when they were made ahead, while
	// the previous page was being written (pullOnce); nil otherwise.
	lk *lookups
}

// ids returns the set of object ids of the page.
func (pg *pulledPage) ids() map[string]struct{} {
	out := make(map[string]struct{}, len(pg.objs))
	for _, o := range pg.objs {
		out[o.ID] = struct{}{}
	}
	return out
}

// touches reports whether the page holds any of ids.
func (pg *pulledPage) touches(ids map[string]struct{}) bool {
	for _, o := range pg.objs {
		if _, ok := ids[o.ID]; ok {
			return true
		}
	}
	return false
}

// storePage admits and stores one page pulled from peer p into coll, with
// the link's progress in the same transaction, and returns the link as
// stored. It returns errTransient, with the checkpoint left where it was,
// when objects of the page failed verification in a way a second fetch
// may cure, until attempts reaches maxAttempts.
func (s *Service) storePage(ctx context.Context, sn *snapshot, p store.Peer, coll store.Collection, cur store.Link, raws []json.RawMessage, dateAddedLast string, attempts *int) (store.Link, error) {
	return s.commitPage(ctx, sn, p, coll, cur, s.checkPage(sn, raws, dateAddedLast), attempts)
}

// checkPage runs the pure checks of a pulled page on every core. It does
// no I/O, so that the puller checks page n+1 while page n is being
// written (pullOnce).
func (s *Service) checkPage(sn *snapshot, raws []json.RawMessage, dateAddedLast string) *pulledPage {
	pg := &pulledPage{start: time.Now(), n: len(raws), dateAddedLast: dateAddedLast}
	decoded := make([]stix.Object, len(raws))
	pre := make([]verification, len(raws))
	derrs := make([]error, len(raws))
	keyFor := s.verifyKey(sn)
	parallel(len(raws), func(i int) {
		decoded[i], pre[i], derrs[i] = s.checkOne(raws[i], keyFor)
	})
	pg.objs, pg.pre = decoded[:0], pre[:0]
	for i, o := range decoded {
		if derrs[i] != nil {
			pg.rejects = append(pg.rejects, &Rejection{ID: "?", Reason: "not a STIX object: " + derrs[i].Error(), Transient: true})
			continue
		}
		pg.objs, pg.pre = append(pg.objs, o), append(pg.pre, pre[i])
	}
	return pg
}

// checkOne decodes raw and runs its pure checks: the provenance signature
// and STIX validation. A signed object is decoded and validated without
// its provenance extension, which the verification has read strictly (the
// generic checks of that extension's members cost as much as the rest of
// an indicator); the object keeps raw as its bytes.
func (s *Service) checkOne(raw []byte, keyFor func(string) (ed25519.PublicKey, bool)) (stix.Object, verification, error) {
	var vr verification
	sig, body, err := s.ver.verifyBody(raw, keyFor)
	vr.sig, vr.err = sig, err
	if body != nil {
		if o, err := stix.DecodeObject(body); err == nil {
			vr.problems = validationError(o) // the body, not raw
			o.Raw = raw
			return o, vr, nil
		}
	}
	o, err := stix.DecodeObject(raw)
	if err != nil {
		return stix.Object{}, vr, err
	}
	vr.problems = validationError(o)
	return o, vr, nil
}

// commitPage admits and stores a checked page (storePage).
func (s *Service) commitPage(ctx context.Context, sn *snapshot, p store.Peer, coll store.Collection, cur store.Link, pg *pulledPage, attempts *int) (store.Link, error) {
	start, objs, dateAddedLast := pg.start, pg.objs, pg.dateAddedLast
	rejects := pg.rejects
	lk := pg.lk
	if lk == nil {
		var err error
		if lk, err = s.lookup(ctx, coll, objs); err != nil {
			return cur, err
		}
	}
	admitted, err := s.admitLooked(sn, p, coll, objs, pg.pre, lk)
	if err != nil {
		return cur, err
	}
	vs := make([]store.Version, 0, len(admitted))
	prov := make([]store.Provenance, 0, len(admitted))
	for _, a := range admitted {
		if a.rej != nil {
			rejects = append(rejects, a.rej)
			continue
		}
		vs, prov = append(vs, a.v), append(prov, a.pr)
	}
	transient := false
	for _, r := range rejects {
		transient = transient || r.Transient
	}
	s.rejected(ctx, p, coll.ID, rejects)
	next := cur
	if dateAddedLast != "" && (!transient || *attempts+1 >= maxAttempts) {
		next.Checkpoint = dateAddedLast
	}
	now := s.cfg.Now()
	if !transient {
		next.LastSuccess, next.LastError = now, ""
	}
	res, err := s.cfg.Store.AddVersionsAt(ctx, coll.ID, vs, prov, next)
	if err != nil {
		return cur, err
	}
	added, dup := tally(res)
	next.Synced += int64(added) // AddVersionsAt stored it so
	same, refused, err := s.refusedByStore(ctx, coll.ID, vs, res)
	if err != nil {
		s.log.Error("check versions the store refused", "peer", p.Name, "err", err)
	}
	dup += same
	s.rejected(ctx, p, coll.ID, refused)
	rejects = append(rejects, refused...)
	s.count(p.Name, store.Pull, "added", added)
	s.count(p.Name, store.Pull, "duplicate", dup)
	own := 0
	for _, r := range rejects {
		if r.Own {
			own++
		}
	}
	s.count(p.Name, store.Pull, "own", own)
	s.count(p.Name, store.Pull, "rejected", len(rejects)-own)
	if s.m.batch != nil {
		s.m.batch.Observe(time.Since(start).Seconds(), p.Name, store.Pull)
	}
	if pg.n > 0 {
		s.log.Info("pulled", "peer", p.Name, "remote", cur.Remote, "local", coll.ID, "objects", pg.n,
			"added", added, "duplicates", dup, "own", own, "rejected", len(rejects)-own, "checkpoint", next.Checkpoint)
	}
	if transient && *attempts+1 < maxAttempts {
		*attempts++
		return next, errTransient
	}
	*attempts = 0
	return next, nil
}

// refusedByStore sorts the versions the store refused (res): a version
// that another path (a second link, a peer's push) stored a moment before,
// signed in another batch, is a duplicate; anything else is a rejection,
// audited like the others.
func (s *Service) refusedByStore(ctx context.Context, collID string, vs []store.Version, res []store.AddResult) (same int, refused []*Rejection, err error) {
	var ids []string
	for i, r := range res {
		if r.Outcome == store.Rejected {
			ids = append(ids, vs[i].Object.ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil, nil
	}
	stored, err := s.storedVersions(ctx, collID, ids)
	for i, r := range res {
		if r.Outcome != store.Rejected {
			continue
		}
		o := vs[i].Object
		if st, ok := stored[o.ID+"|"+o.Version()]; ok && sameContent(st.Raw, o.Raw) {
			same++
			continue
		}
		refused = append(refused, &Rejection{ID: o.ID, Reason: "refused by the store: " + r.Message})
	}
	return same, refused, err
}

func tally(res []store.AddResult) (added, dup int) {
	for _, r := range res {
		switch r.Outcome {
		case store.Added:
			added++
		case store.Duplicate:
			dup++
		}
	}
	return added, dup
}

// admitted is the outcome of admitting one object: the version to
// store and its provenance, or the rejection.
type admitted struct {
	v   store.Version
	pr  store.Provenance
	rej *Rejection
}

// parallel calls fn(0) ... fn(n-1) on as many goroutines as there are
// CPUs, for the pure per-object work of a batch.
func parallel(n int, fn func(i int)) {
	workers := min(n, max(1, runtime.GOMAXPROCS(0)))
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	// Each worker takes a run of neighbours rather than every workers-th
	// index: neighbours in a signed batch share most of their audit path,
	// which the verifier's per-worker memo then finds.
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w * n / workers; i < (w+1)*n/workers; i++ {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// admitAll admits a batch a peer pushed, whose objects the TAXII server
// has decoded and validated already: the provenance signatures (the
// dearest part) are checked in parallel, then the write rules run in
// order, since an object may need a marking definition or an earlier
// version from the same batch. The result has one entry per object.
func (s *Service) admitAll(ctx context.Context, sn *snapshot, p store.Peer, coll store.Collection, objs []stix.Object) ([]admitted, error) {
	pre := make([]verification, len(objs))
	keyFor := s.verifyKey(sn)
	parallel(len(objs), func(i int) {
		pre[i].sig, _, pre[i].err = s.ver.verifyBody(objs[i].Raw, keyFor)
	})
	lk, err := s.lookup(ctx, coll, objs)
	if err != nil {
		return nil, err
	}
	return s.admitLooked(sn, p, coll, objs, pre, lk)
}

// lookups is what admitting a batch reads from the store, read once for
// the whole batch.
type lookups struct {
	known  map[string]store.Provenance // recorded provenance, by object id
	stored map[string]stix.Object      // stored versions of those, by id|version
	actx   context.Context             // ctx with the policy's history of the batch preloaded
}

func (s *Service) lookup(ctx context.Context, coll store.Collection, objs []stix.Object) (*lookups, error) {
	known, err := s.provenanceOf(ctx, objs)
	if err != nil {
		return nil, err
	}
	// Only objects with a recorded provenance can arrive again.
	stored, err := s.storedVersions(ctx, coll.ID, slices.Collect(maps.Keys(known)))
	if err != nil {
		return nil, err
	}
	// The policy's history check (only the creator versions an object)
	// with one store query for the batch rather than one per object.
	actx, err := s.preload(ctx, coll, objs)
	if err != nil {
		return nil, err
	}
	return &lookups{known: known, stored: stored, actx: actx}, nil
}

// admitLooked runs the write rules over a batch with its lookups done.
//
// The write rules see the versions stored before the batch (the lookups);
// those admitted earlier in the same batch are stored with it, so they
// count too, as the TAXII server counts them for an envelope: only an
// object's creator versions it. (A marking definition's one content is
// kept by the policy itself, which remembers the definitions it admits.)
// A batch may be one page or several merged (pullOnce).
func (s *Service) admitLooked(sn *snapshot, p store.Peer, coll store.Collection, objs []stix.Object, pre []verification, lk *lookups) ([]admitted, error) {
	out := make([]admitted, len(objs))
	var creators map[string]string // by id: the creator of the first version admitted in this batch
	for i, o := range objs {
		v, pr, err := s.admit(lk.actx, sn, p, coll, o, lk.known, pre[i])
		if errors.As(err, &out[i].rej) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if cr, ok := creators[o.ID]; ok && cr != v.Object.CreatedByRef {
			out[i].rej = &Rejection{ID: o.ID, Reason: fmt.Sprintf("object %s was created by another organisation: only its creator may version or revoke it", o.ID)}
			continue
		} else if !ok {
			if creators == nil {
				creators = make(map[string]string, len(objs))
			}
			creators[o.ID] = v.Object.CreatedByRef
		}
		v.Object = sameVersion(lk.stored, v.Object)
		out[i].v, out[i].pr = v, pr
	}
	return out, nil
}

// pushOnce sends one batch of what was added locally after the checkpoint
// and may leave for the peer. It reports whether more is waiting.
func (s *Service) pushOnce(ctx context.Context, l store.Link, attempts *int) (bool, error) {
	sn, err := s.load(ctx)
	if err != nil {
		return false, err
	}
	p, ok := sn.peers[l.Peer]
	if !ok {
		return false, fmt.Errorf("federation: peer %q is gone", l.Peer)
	}
	cur, err := s.link(ctx, l)
	if err != nil {
		return false, err
	}
	coll, err := s.cfg.Store.Collection(ctx, cur.Local)
	if err != nil {
		return false, fmt.Errorf("federation: local collection %s: %w", cur.Local, err)
	}
	var after time.Time
	if cur.Checkpoint != "" {
		if after, err = time.Parse(time.RFC3339Nano, cur.Checkpoint); err != nil {
			return false, fmt.Errorf("federation: link %s: bad checkpoint %q", l.Key(), cur.Checkpoint)
		}
	}
	page, err := s.cfg.Store.Query(ctx, coll.ID, store.Filter{AddedAfter: after, Versions: []string{"all"}, Limit: s.cfg.PageSize})
	if err != nil {
		return false, fmt.Errorf("federation: push: %w", err)
	}
	if len(page.Versions) == 0 {
		return false, nil
	}
	start := time.Now()
	keys := sn.peerKeys(p)
	pp := peerPrincipal(p, keys)
	cc := coll
	cc.ReadBy = keys // the link is the peer's right to read this collection
	present := presenter(s.cfg.Policy, pp, cc)
	var out []json.RawMessage
	for _, b := range s.egressBatch(sn, p, page.Versions, present) {
		if b != nil {
			out = append(out, b)
		}
	}
	withheld := len(page.Versions) - len(out)
	next := cur
	next.Checkpoint = page.Versions[len(page.Versions)-1].DateAdded.UTC().Format(store.TimestampFormat)
	if len(out) > 0 {
		c, err := s.client(p)
		if err != nil {
			return false, err
		}
		// Envelopes no larger than the peer's max_content_length (TAXII
		// 2.1 §4.2): a page of large objects may need several.
		limit, err := s.maxContentLength(ctx, p, c)
		if err != nil {
			return false, fmt.Errorf("federation: push to %s: %w", l.Peer, err)
		}
		batches, tooBig := taxii.SplitEnvelopes(out, limit)
		var st taxii.Status
		for _, b := range batches {
			bs, err := c.AddObjects(ctx, cur.Remote, b)
			if err != nil {
				return false, fmt.Errorf("federation: push to %s: %w", l.Peer, err)
			}
			if bs.Status != taxii.StatusComplete {
				return false, fmt.Errorf("federation: push to %s: status %s still %s", l.Peer, bs.ID, bs.Status)
			}
			st.SuccessCount += bs.SuccessCount
			st.FailureCount += bs.FailureCount
			st.Failures = append(st.Failures, bs.Failures...)
		}
		if st.FailureCount > 0 {
			msg := "rejected by the peer"
			if len(st.Failures) > 0 {
				msg = st.Failures[0].ID + ": " + st.Failures[0].Message
			}
			*attempts++
			if *attempts < maxAttempts {
				return false, fmt.Errorf("federation: push to %s: %d of %d objects failed (%s)", l.Peer, st.FailureCount, len(out), msg)
			}
			s.log.Error("push: giving up on objects the peer keeps refusing", "peer", l.Peer, "failed", st.FailureCount, "first", msg)
			next.LastError, next.LastErrorAt = fmt.Sprintf("%d objects refused: %s", st.FailureCount, msg), s.cfg.Now()
		}
		*attempts = 0
		// An object larger than the peer takes is not retried: it never
		// will fit. It is logged, counted and shown in the link's status.
		for _, i := range tooBig {
			msg := fmt.Sprintf("%s: larger than the peer's max_content_length (%d bytes); not sent", objectID(out[i]), limit)
			s.log.Error("push: object too large for the peer", "peer", l.Peer, "object", objectID(out[i]), "bytes", len(out[i]), "limit", limit)
			next.LastError, next.LastErrorAt = msg, s.cfg.Now()
		}
		next.Synced += int64(st.SuccessCount)
		s.count(p.Name, store.Push, "pushed", st.SuccessCount)
		s.count(p.Name, store.Push, "rejected", st.FailureCount+len(tooBig))
	}
	s.count(p.Name, store.Push, "withheld", withheld)
	next.LastSuccess = s.cfg.Now()
	if next.LastErrorAt.Before(next.LastSuccess.Add(-time.Millisecond)) {
		next.LastError = ""
	}
	if err := s.cfg.Store.UpdateLink(ctx, next); err != nil {
		return false, fmt.Errorf("federation: %w", err)
	}
	if s.m.batch != nil {
		s.m.batch.Observe(time.Since(start).Seconds(), p.Name, store.Push)
	}
	s.log.Info("pushed", "peer", p.Name, "local", coll.ID, "remote", cur.Remote, "sent", len(out), "withheld", withheld, "checkpoint", next.Checkpoint)
	return page.More, nil
}

// objectID returns the id of a JSON object, for messages.
func objectID(raw []byte) string {
	var o struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &o) != nil || o.ID == "" {
		return "?"
	}
	return o.ID
}

// storedVersions returns the versions stored in collection collID of the
// objects ids, by id and version: one query per batch.
func (s *Service) storedVersions(ctx context.Context, collID string, ids []string) (map[string]stix.Object, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := map[string]stix.Object{}
	f := store.Filter{IDs: ids, Versions: []string{"all"}, Limit: 1000}
	for {
		page, err := s.cfg.Store.Query(ctx, collID, f)
		if err != nil {
			return nil, fmt.Errorf("federation: stored versions: %w", err)
		}
		for _, v := range page.Versions {
			out[v.Object.ID+"|"+v.Object.Version()] = v.Object
		}
		if !page.More || len(page.Versions) == 0 {
			return out, nil
		}
		f.AddedAfter = page.Versions[len(page.Versions)-1].DateAdded
	}
}

// sameVersion returns the stored copy of o when one differs from o only
// in its provenance extension: the version came by two paths, signed in
// different batches, and is stored once (the store sees a duplicate).
func sameVersion(stored map[string]stix.Object, o stix.Object) stix.Object {
	if st, ok := stored[o.ID+"|"+o.Version()]; ok && !bytes.Equal(st.Raw, o.Raw) && sameContent(st.Raw, o.Raw) {
		return st
	}
	return o
}
