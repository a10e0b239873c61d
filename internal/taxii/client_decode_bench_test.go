package taxii

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/cputime"
)

// benchPage is an envelope of n indicators of about 1 KB each, the size of
// the pages federation catch-up pulls.
func benchPage(n int) []byte {
	words := strings.Repeat("benchmark indicator with a description of realistic length; ", 10)
	objs := make([]string, n)
	for i := range objs {
		objs[i] = indicator(i, "2020-01-01T00:00:00.000Z",
			`"description":`+strconv.Quote(words),
			`"labels":["malicious-activity","phishing"]`,
			`"external_references":[{"source_name":"cert","url":"https://cert.example/advisories/`+strconv.Itoa(i)+`"}]`)
	}
	return []byte(`{"more":true,"next":"abc","objects":[` + strings.Join(objs, ",") + `]}`)
}

// BenchmarkClientPage measures how fast the client takes in a page of 1000
// objects, in objects per second: decode/ the decoding of the body alone,
// get/ a whole GetObjects against a local plain HTTP server, answering
// with a Content-Length or chunked (as jointcell's own server does for
// large pages).
func BenchmarkClientPage(b *testing.B) {
	const n = 1000
	body := benchPage(n)
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		var cpu time.Duration
		objects := 0
		for b.Loop() {
			c0 := cputime.Process()
			env, err := decodeEnvelopeBody(body)
			cpu += cputime.Process() - c0
			if err != nil || len(env.Objects) != n {
				b.Fatalf("decode: %d objects, %v", len(env.Objects), err)
			}
			objects += n
		}
		reportIngest(b, objects, cpu)
	})
	for _, chunked := range []bool{false, true} {
		name := "get/content-length"
		if chunked {
			name = "get/chunked"
		}
		b.Run(name, func(b *testing.B) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", MediaTypeTAXII)
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				_, _ = w.Write(body)
			}))
			defer ts.Close()
			c, err := NewClient(ClientConfig{BaseURL: ts.URL + "/api/", Token: "t"})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			var cpu time.Duration
			objects := 0
			for b.Loop() {
				c0 := cputime.Process()
				page, err := c.GetObjects(b.Context(), "c", Filter{Limit: n})
				cpu += cputime.Process() - c0
				if err != nil || len(page.Objects) != n {
					b.Fatalf("get: %v", err)
				}
				objects += n
			}
			reportIngest(b, objects, cpu)
		})
	}
}
