package taxii

import (
	"mime"
	"strings"
)

// Media types (TAXII 2.1 §1.6.8). The server writes MediaTypeTAXII on
// every response; objects inside envelopes are MediaTypeSTIX.
const (
	MediaTypeTAXII = "application/taxii+json;version=2.1"
	MediaTypeSTIX  = "application/stix+json;version=2.1"
	taxiiType      = "application/taxii+json"
	taxiiVersion   = "2.1"
)

// isTAXIIMediaType reports whether a Content-Type names TAXII 2.1 JSON. The
// version parameter may be absent, which means the latest version (TAXII
// 2.1 §1.6.8.1); whitespace and letter case around parameters vary between
// implementations, so the value is parsed rather than compared.
func isTAXIIMediaType(v string) bool {
	t, params, err := mime.ParseMediaType(v)
	if err != nil || t != taxiiType {
		return false
	}
	ver, ok := params["version"]
	return !ok || ver == taxiiVersion
}

// acceptable reports whether an Accept header allows the TAXII 2.1 media
// type. A missing header accepts anything (RFC 9110 §12.5.1). Wildcards
// are honoured because general-purpose tools (curl, browsers) send them;
// a range with q=0 explicitly refuses.
func acceptable(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	for _, r := range strings.Split(accept, ",") {
		t, params, err := mime.ParseMediaType(strings.TrimSpace(r))
		if err != nil {
			continue
		}
		if q, ok := params["q"]; ok && isZeroQ(q) {
			continue
		}
		switch t {
		case "*/*", "application/*":
			return true
		case taxiiType:
			if v, ok := params["version"]; !ok || v == taxiiVersion {
				return true
			}
		}
	}
	return false
}

// isZeroQ reports whether a quality value is zero ("0", "0.0", "0.000").
func isZeroQ(q string) bool {
	q = strings.TrimSpace(q)
	if q == "" || q[0] != '0' {
		return false
	}
	return strings.Trim(q[1:], ".0") == ""
}
