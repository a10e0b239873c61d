package taxii

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL is the server root ("https://host:8443"), its discovery URL
	// (".../taxii2/") or an API root URL (any other path).
	BaseURL string
	// User and Token authenticate: HTTP Basic with User and Token as the
	// password when User is set, else "Authorization: Bearer Token".
	User, Token string
	CAFile      string        // PEM bundle trusted for the server's certificate
	Insecure    bool          // skip certificate verification (self-signed test servers only)
	Timeout     time.Duration // per request, default 60s
	// StatusWait bounds how long AddObjects polls a pending status,
	// default 2 minutes.
	StatusWait time.Duration
	HTTPClient *http.Client // overrides CAFile, Insecure and Timeout
	UserAgent  string
	// MaxResponse bounds the size of a response body, so that a server
	// cannot exhaust the client's memory; default 256 MiB (a page of 1000
	// objects of the largest size jointcell accepts by default, with room).
	MaxResponse int64
}

// DefaultMaxResponse is ClientConfig.MaxResponse's default.
const DefaultMaxResponse = 256 << 20

// ErrResponseTooLarge is returned for a response body over MaxResponse.
var ErrResponseTooLarge = errors.New("response body exceeds the client's limit")

// Client is a TAXII 2.1 client. It is liberal in what it accepts so that it
// works with any TAXII 2.1 server, jointcell or not.
type Client struct {
	hc         *http.Client
	cfg        ClientConfig
	discovery  string // discovery URL
	mu         sync.Mutex
	apiRootURL string            // resolved lazily from discovery when not given
	aliases    map[string]string // alias -> id, for servers that route by id only
	bufs       sync.Pool         // of *bytes.Buffer, for bodies of unknown length
}

// HTTPError is a non-2xx answer. TAXII holds the server's error message when
// it sent one (TAXII 2.1 §3.6.1).
type HTTPError struct {
	Method     string
	URL        string
	StatusCode int
	TAXII      *Error
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("taxii: %s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.TAXII != nil {
		msg += ": " + e.TAXII.Title
		if e.TAXII.Description != "" {
			msg += ": " + e.TAXII.Description
		}
	}
	return msg
}

// NewClient checks cfg and builds the HTTP transport.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("taxii: new client: base URL %q must be an http or https URL", cfg.BaseURL)
	}
	c := &Client{cfg: cfg}
	switch p := strings.TrimSuffix(u.Path, "/"); {
	case p == "":
		c.discovery = u.Scheme + "://" + u.Host + "/taxii2/"
	case strings.HasSuffix(p, "/taxii2"):
		c.discovery = u.Scheme + "://" + u.Host + p + "/"
	default:
		c.discovery = u.Scheme + "://" + u.Host + "/taxii2/"
		c.apiRootURL = u.Scheme + "://" + u.Host + p + "/"
	}
	if cfg.StatusWait <= 0 {
		c.cfg.StatusWait = 2 * time.Minute
	}
	if cfg.HTTPClient != nil {
		c.hc = cfg.HTTPClient
		return c, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.Insecure} //nolint:gosec // opt-in for self-signed test servers
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("taxii: new client: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("taxii: new client: %s holds no PEM certificate", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tc
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	c.hc = &http.Client{Transport: tr, Timeout: timeout}
	return c, nil
}

// Filter is a TAXII 2.1 query (§3.4). AddedAfter is sent as given, so a
// timestamp read from a server goes back to it unchanged.
type Filter struct {
	AddedAfter   string
	Limit        int
	Next         string
	IDs          []string
	Types        []string
	Versions     []string
	SpecVersions []string
}

func (f Filter) values() url.Values {
	v := url.Values{}
	if f.AddedAfter != "" {
		v.Set(paramAddedAfter, f.AddedAfter)
	}
	if f.Limit > 0 {
		v.Set(paramLimit, strconv.Itoa(f.Limit))
	}
	if f.Next != "" {
		v.Set(paramNext, f.Next)
	}
	for name, list := range map[string][]string{paramID: f.IDs, paramType: f.Types, paramVersion: f.Versions, paramSpecVersion: f.SpecVersions} {
		if len(list) > 0 {
			v.Set(name, strings.Join(list, ","))
		}
	}
	return v
}

// ObjectsPage is one page of objects with its X-TAXII-Date-Added headers.
// The objects share one buffer, the body of the response, so keeping one
// of them keeps the page's body in memory.
type ObjectsPage struct {
	Objects        []json.RawMessage
	More           bool
	Next           string
	DateAddedFirst string
	DateAddedLast  string
}

// do sends one request and decodes a 2xx JSON body into out (when not nil).
func (c *Client) do(ctx context.Context, method, u string, body []byte, out any) (http.Header, error) {
	var decode func([]byte) error
	if out != nil {
		decode = func(data []byte) error { return json.Unmarshal(data, out) }
	}
	return c.send(ctx, method, u, body, decode)
}

// send sends one request and hands a 2xx body that is not empty to decode
// (when not nil).
func (c *Client) send(ctx context.Context, method, u string, body []byte, decode func([]byte) error) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("taxii: %s %s: %w", method, u, err)
	}
	req.Header.Set("Accept", MediaTypeTAXII)
	if body != nil {
		req.Header.Set("Content-Type", MediaTypeTAXII)
	}
	if c.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", c.cfg.UserAgent)
	}
	switch {
	case c.cfg.User != "":
		req.SetBasicAuth(c.cfg.User, c.cfg.Token)
	case c.cfg.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("taxii: %s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	data, err := c.readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("taxii: %s %s: read body: %w", method, u, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		he := &HTTPError{Method: method, URL: u, StatusCode: resp.StatusCode}
		var m Error
		if json.Unmarshal(data, &m) == nil && m.Title != "" {
			he.TAXII = &m
		}
		return resp.Header, he
	}
	if decode == nil || len(bytes.TrimSpace(data)) == 0 {
		return resp.Header, nil
	}
	if err := decode(data); err != nil {
		ct := resp.Header.Get("Content-Type")
		if t, _, perr := mime.ParseMediaType(ct); perr != nil || !strings.HasSuffix(t, "json") {
			return resp.Header, fmt.Errorf("taxii: %s %s: unexpected content type %q: %w", method, u, ct, err)
		}
		return resp.Header, fmt.Errorf("taxii: %s %s: decode: %w", method, u, err)
	}
	return resp.Header, nil
}

// maxLengthHint bounds the buffer readBody sizes by a Content-Length before
// any of the body has arrived, so that a header alone cannot make the
// client allocate more than that; a longer body is read as it arrives.
const maxLengthHint = DefaultMaxContentLength

// maxPooled is the largest read buffer the client keeps for reuse.
const maxPooled = 16 << 20

// readBody reads a response body into a buffer of its size. The decoded
// objects of a page are sub-slices of it, so it cannot be reused, but it
// can be allocated once: with a Content-Length, at that size (and a little
// slack to see the end); without one (a large page is usually chunked), by
// reading into a reused buffer and copying the body out, where io.ReadAll
// would allocate and copy its growing buffers again for every page.
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	limit := c.cfg.MaxResponse
	if limit <= 0 {
		limit = DefaultMaxResponse
	}
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w (%d bytes announced, limit %d)", ErrResponseTooLarge, resp.ContentLength, limit)
	}
	body := io.LimitReader(resp.Body, limit+1)
	data, err := c.readLimited(resp, body)
	if err == nil && int64(len(data)) > limit {
		return nil, fmt.Errorf("%w (limit %d bytes)", ErrResponseTooLarge, limit)
	}
	return data, err
}

func (c *Client) readLimited(resp *http.Response, body io.Reader) ([]byte, error) {
	if n := resp.ContentLength; n >= 0 && n <= maxLengthHint {
		buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
		_, err := buf.ReadFrom(body)
		return buf.Bytes(), err
	}
	buf, _ := c.bufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	buf.Reset()
	_, err := buf.ReadFrom(body)
	data := bytes.Clone(buf.Bytes())
	if buf.Cap() <= maxPooled {
		c.bufs.Put(buf)
	}
	return data, err
}

// CloseIdleConnections closes the client's idle connections; call it when
// the client is dropped for a new one.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Discovery fetches the discovery resource (TAXII 2.1 §4.1).
func (c *Client) Discovery(ctx context.Context) (*Discovery, error) {
	var d Discovery
	if _, err := c.do(ctx, http.MethodGet, c.discovery, nil, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// APIRootURL returns the API root the client talks to: the one given in
// BaseURL, else the discovery's default, else its only API root.
func (c *Client) APIRootURL(ctx context.Context) (string, error) {
	c.mu.Lock()
	root := c.apiRootURL
	c.mu.Unlock()
	if root != "" {
		return root, nil
	}
	d, err := c.Discovery(ctx)
	if err != nil {
		return "", err
	}
	root = d.Default
	if root == "" && len(d.APIRoots) == 1 {
		root = d.APIRoots[0]
	}
	if root == "" {
		return "", fmt.Errorf("taxii: %s names no default API root; give the API root URL instead", c.discovery)
	}
	base, _ := url.Parse(c.discovery)
	ref, err := url.Parse(root)
	if err != nil {
		return "", fmt.Errorf("taxii: discovery: bad API root %q: %w", root, err)
	}
	root = base.ResolveReference(ref).String()
	if !strings.HasSuffix(root, "/") {
		root += "/"
	}
	c.mu.Lock()
	c.apiRootURL = root
	c.mu.Unlock()
	return root, nil
}

func (c *Client) url(ctx context.Context, path string, q url.Values) (string, error) {
	root, err := c.APIRootURL(ctx)
	if err != nil {
		return "", err
	}
	u := root + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u, nil
}

func collPath(collection string, rest ...string) string {
	p := "collections/" + url.PathEscape(collection) + "/"
	for _, r := range rest {
		p += url.PathEscape(r) + "/"
	}
	return p
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) (http.Header, error) {
	u, err := c.url(ctx, path, q)
	if err != nil {
		return nil, err
	}
	return c.do(ctx, http.MethodGet, u, nil, out)
}

// getWith is get with a decoder of its own for the body.
func (c *Client) getWith(ctx context.Context, path string, q url.Values, decode func([]byte) error) (http.Header, error) {
	u, err := c.url(ctx, path, q)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, http.MethodGet, u, nil, decode)
}

// APIRoot fetches the API root resource (TAXII 2.1 §4.2).
func (c *Client) APIRoot(ctx context.Context) (*APIRoot, error) {
	var a APIRoot
	if _, err := c.get(ctx, "", nil, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

// Collections lists the collections (TAXII 2.1 §5.1).
func (c *Client) Collections(ctx context.Context) ([]Collection, error) {
	var cs Collections
	if _, err := c.get(ctx, "collections/", nil, &cs); err != nil {
		return nil, err
	}
	return cs.Collections, nil
}

// withCollection calls fn with the name to put in the collection's URL:
// collection itself, unless the server answered 404 to it and lists a
// collection with that alias. TAXII 2.1 URLs name collections by id;
// jointcell also accepts aliases, but other servers (medallion) do not.
// A 404 changed nothing on the server, so fn may be repeated.
func (c *Client) withCollection(ctx context.Context, collection string, fn func(name string) error) error {
	c.mu.Lock()
	name, ok := c.aliases[collection]
	c.mu.Unlock()
	if ok {
		return fn(name)
	}
	err := fn(collection)
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusNotFound {
		return err
	}
	cols, lerr := c.Collections(ctx)
	if lerr != nil {
		return err
	}
	for _, col := range cols {
		if col.Alias == collection && col.ID != "" && col.ID != collection {
			c.mu.Lock()
			if c.aliases == nil {
				c.aliases = map[string]string{}
			}
			c.aliases[collection] = col.ID
			c.mu.Unlock()
			return fn(col.ID)
		}
	}
	return err
}

// Collection fetches one collection by id or alias (TAXII 2.1 §5.2).
func (c *Client) Collection(ctx context.Context, collection string) (*Collection, error) {
	var col Collection
	err := c.withCollection(ctx, collection, func(name string) error {
		_, err := c.get(ctx, collPath(name), nil, &col)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &col, nil
}

// Manifest fetches one page of a manifest (TAXII 2.1 §5.3).
func (c *Client) Manifest(ctx context.Context, collection string, f Filter) (*Manifest, error) {
	var m Manifest
	err := c.withCollection(ctx, collection, func(name string) error {
		_, err := c.getWith(ctx, collPath(name, "manifest"), f.values(), func(data []byte) (err error) {
			m, err = decodeManifestBody(data)
			return err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func (c *Client) objectsPage(ctx context.Context, collection string, rest []string, f Filter) (*ObjectsPage, error) {
	var env Envelope
	var h http.Header
	err := c.withCollection(ctx, collection, func(name string) error {
		var err error
		h, err = c.getWith(ctx, collPath(name, rest...), f.values(), func(data []byte) (err error) {
			env, err = decodeEnvelopeBody(data)
			return err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ObjectsPage{
		Objects:        env.Objects,
		More:           env.More,
		Next:           env.Next,
		DateAddedFirst: h.Get("X-TAXII-Date-Added-First"),
		DateAddedLast:  h.Get("X-TAXII-Date-Added-Last"),
	}, nil
}

// GetObjects fetches one page of objects (TAXII 2.1 §5.4).
func (c *Client) GetObjects(ctx context.Context, collection string, f Filter) (*ObjectsPage, error) {
	return c.objectsPage(ctx, collection, []string{"objects"}, f)
}

// GetObject fetches the versions of one object selected by f (TAXII 2.1
// §5.6; only added_after, limit, next, match[version] and
// match[spec_version] apply).
func (c *Client) GetObject(ctx context.Context, collection, objectID string, f Filter) (*ObjectsPage, error) {
	return c.objectsPage(ctx, collection, []string{"objects", objectID}, f)
}

// Versions lists the versions of one object (TAXII 2.1 §5.8).
func (c *Client) Versions(ctx context.Context, collection, objectID string, f Filter) (*Versions, error) {
	var v Versions
	err := c.withCollection(ctx, collection, func(name string) error {
		_, err := c.getWith(ctx, collPath(name, "objects", objectID, "versions"), f.values(), func(data []byte) (err error) {
			v, err = decodeVersionsBody(data)
			return err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// DeleteObject deletes the versions of one object selected by
// match[version] and match[spec_version] in f (TAXII 2.1 §5.7).
func (c *Client) DeleteObject(ctx context.Context, collection, objectID string, f Filter) error {
	q := Filter{Versions: f.Versions, SpecVersions: f.SpecVersions}.values()
	return c.withCollection(ctx, collection, func(name string) error {
		u, err := c.url(ctx, collPath(name, "objects", objectID), q)
		if err != nil {
			return err
		}
		_, err = c.do(ctx, http.MethodDelete, u, nil, nil)
		return err
	})
}

// Status fetches a status resource (TAXII 2.1 §4.3).
func (c *Client) Status(ctx context.Context, id string) (*Status, error) {
	var s Status
	if _, err := c.get(ctx, "status/"+url.PathEscape(id)+"/", nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// AddObjects posts one envelope (TAXII 2.1 §5.5) and, when the server
// answers with a pending status, polls it until it is complete or
// StatusWait has passed; the last status seen is returned either way.
func (c *Client) AddObjects(ctx context.Context, collection string, objects []json.RawMessage) (*Status, error) {
	body, err := json.Marshal(Envelope{Objects: objects})
	if err != nil {
		return nil, fmt.Errorf("taxii: add objects: %w", err)
	}
	return c.AddEnvelope(ctx, collection, body)
}

// AddEnvelope is AddObjects for an already encoded envelope.
func (c *Client) AddEnvelope(ctx context.Context, collection string, envelope []byte) (*Status, error) {
	var st Status
	err := c.withCollection(ctx, collection, func(name string) error {
		u, err := c.url(ctx, collPath(name, "objects"), nil)
		if err != nil {
			return err
		}
		_, err = c.do(ctx, http.MethodPost, u, envelope, &st)
		return err
	})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.cfg.StatusWait)
	wait := 100 * time.Millisecond
	for st.Status == StatusPending && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return &st, fmt.Errorf("taxii: wait for status %s: %w", st.ID, ctx.Err())
		case <-time.After(wait):
		}
		next, err := c.Status(ctx, st.ID)
		if err != nil {
			return &st, err
		}
		st = *next
		wait = min(2*wait, 5*time.Second)
	}
	return &st, nil
}

// ErrNoProgress is returned by Iterate when a server says more but neither
// gives next nor a date_added to continue after.
var ErrNoProgress = errors.New("taxii: server reports more objects but gives no way to continue")

// Iterate fetches pages of objects from f on, calling fn for each, until
// the server reports no more. It follows next; a server that reports more
// without next (some do) is continued with added_after set to the page's
// X-TAXII-Date-Added-Last.
func (c *Client) Iterate(ctx context.Context, collection string, f Filter, fn func(*ObjectsPage) error) error {
	for {
		page, err := c.GetObjects(ctx, collection, f)
		if err != nil {
			return err
		}
		if err := fn(page); err != nil {
			return err
		}
		if !page.More {
			return nil
		}
		switch {
		case page.Next != "":
			f.Next = page.Next
		case page.DateAddedLast != "" && page.DateAddedLast != f.AddedAfter:
			f.Next = ""
			f.AddedAfter = page.DateAddedLast
		default:
			return ErrNoProgress
		}
	}
}
