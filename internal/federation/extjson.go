package federation

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/jointcell/jointcell/internal/stix"
)

// The provenance extension is written and read on every object that
// crosses between cells, so both directions have a direct path for the
// canonical bytes this package itself produces, and fall back to
// encoding/json plus a full RFC 8785 pass for anything else. The direct
// paths only accept what they can prove is canonical: plain ASCII keys and
// strings (no escapes, no bytes above 0x7f), where byte order is the UTF-16
// order RFC 8785 §3.2.3 sorts by.

// plain reports whether s needs no escaping in JSON and sorts bytewise as
// it does in UTF-16.
func plain[T string | []byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte marks the bytes plain allows: printable ASCII but '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendExt appends the JCS form of e (members sorted, zero values
// omitted as encoding/json's omitempty does), or reports false when a
// string needs escaping.
func appendExt(dst []byte, e sigExt) ([]byte, bool) {
	if !plain(e.ExtensionType) || !plain(e.Cell) || !plain(e.Signature) || !plain(e.SignedBy) || !plain(e.BatchRoot) {
		return dst, false
	}
	for _, p := range e.BatchProof {
		if !plain(p) {
			return dst, false
		}
	}
	sep := byte('{')
	key := func(name string) {
		dst = append(dst, sep, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		sep = ','
	}
	str := func(s string) { dst = append(append(append(dst, '"'), s...), '"') }
	if e.BatchIndex != 0 {
		key("batch_index")
		dst = strconv.AppendInt(dst, int64(e.BatchIndex), 10)
	}
	if len(e.BatchProof) > 0 {
		key("batch_proof")
		for i, p := range e.BatchProof {
			if i == 0 {
				dst = append(dst, '[')
			} else {
				dst = append(dst, ',')
			}
			str(p)
		}
		dst = append(dst, ']')
	}
	if e.BatchRoot != "" {
		key("batch_root")
		str(e.BatchRoot)
	}
	if e.BatchSize != 0 {
		key("batch_size")
		dst = strconv.AppendInt(dst, int64(e.BatchSize), 10)
	}
	key("cell")
	str(e.Cell)
	key("extension_type")
	str(e.ExtensionType)
	key("signature")
	str(e.Signature)
	if e.SignedBy != "" {
		key("signed_by")
		str(e.SignedBy)
	}
	return append(dst, '}'), true
}

// insertMember returns the canonical object obj with the member
// "key":val added at its sorted place, or false when a key of obj is not
// plain or key is already there.
func insertMember(dst, obj []byte, key string, val []byte) ([]byte, bool) {
	at := len(obj) - 1 // before the closing brace
	for i := 1; i < len(obj) && obj[i] == '"'; {
		ke := skipString(obj, i)
		k := obj[i+1 : ke-1]
		if !plain(k) {
			return dst, false
		}
		if c := bytes.Compare(k, []byte(key)); c == 0 {
			return dst, false
		} else if c > 0 {
			at = i
			break
		}
		ve := skipValue(obj, ke+1)
		if ve >= len(obj) || obj[ve] != ',' {
			break
		}
		i = ve + 1
	}
	dst = append(dst, obj[:at]...)
	if at > 1 && obj[at-1] != ',' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	dst = append(dst, val...)
	if obj[at] != '}' {
		dst = append(dst, ',')
	}
	return append(dst, obj[at:]...), true
}

// spliceExtension returns the canonical body with the provenance extension
// eb (canonical) added, or false when the direct path does not apply.
func spliceExtension(body, eb []byte) ([]byte, bool) {
	out := make([]byte, 0, len(body)+len(eb)+len(Extension)+32)
	if ks, _, vs, ve := findMember(body, extsKey); ks >= 0 {
		if body[vs] != '{' {
			return nil, false
		}
		out = append(out, body[:vs]...)
		out, ok := insertMember(out, body[vs:ve], Extension, eb)
		if !ok {
			return nil, false
		}
		return append(out, body[ve:]...), true
	}
	ext := make([]byte, 0, len(eb)+len(Extension)+8)
	ext = append(append(append(ext, `{"`...), Extension...), `":`...)
	ext = append(append(ext, eb...), '}')
	return insertMember(out, body, "extensions", ext)
}

// addExtension returns the JCS form of body (canonical, without the
// provenance extension) with ext added as the provenance extension.
func addExtension(body []byte, ext sigExt) ([]byte, error) {
	size := 160 + len(ext.Cell) + len(ext.Signature) + len(ext.SignedBy) + len(ext.BatchRoot) + (len(ext.BatchRoot)+3)*len(ext.BatchProof)
	if eb, ok := appendExt(make([]byte, 0, size), ext); ok {
		if out, ok := spliceExtension(body, eb); ok {
			return out, nil
		}
	}
	eb, err := json.Marshal(ext)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(body)+len(eb)+len(Extension)+32)
	if _, _, vs, ve := findMember(body, extsKey); vs >= 0 {
		out = append(out, body[:vs+1]...)
		out = append(append(append(out, extKey...), ':'), eb...)
		if ve-vs > 2 {
			out = append(out, ',')
		}
		out = append(out, body[vs+1:]...)
	} else {
		out = append(out, `{"extensions":{`...)
		out = append(append(append(out, extKey...), ':'), eb...)
		out = append(out, '}')
		if len(body) > 2 {
			out = append(out, ',')
		}
		out = append(out, body[1:]...)
	}
	return stix.Canonicalize(out)
}

// parseExt decodes the canonical provenance extension eb as
// json.Unmarshal into sigExt would, reading plain strings and integers
// directly; anything else (escapes, other keys, other shapes) goes to
// encoding/json, which gives the same result or the error.
func parseExt(eb []byte) (sigExt, error) {
	if s, ok := parseExtDirect(eb); ok {
		return s, nil
	}
	var s sigExt
	err := json.Unmarshal(eb, &s)
	return s, err
}

func parseExtDirect(b []byte) (sigExt, bool) {
	var s sigExt
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return s, false
	}
	str := func(v []byte) (string, bool) {
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || !plain(v[1:len(v)-1]) {
			return "", false
		}
		return string(v[1 : len(v)-1]), true
	}
	num := func(v []byte) (int, bool) {
		if len(v) == 0 || len(v) > 9 || (v[0] == '0' && len(v) > 1) {
			return 0, false
		}
		n := 0
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	i := 1
	if b[i] == '}' {
		return s, len(b) == 2
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return s, false
		}
		ke := skipString(b, i)
		if ke >= len(b) || b[ke] != ':' {
			return s, false
		}
		ve := skipValue(b, ke+1)
		if ve > len(b) {
			return s, false
		}
		v := b[ke+1 : ve]
		ok := true
		switch string(b[i+1 : ke-1]) {
		case "extension_type":
			s.ExtensionType, ok = str(v)
		case "cell":
			s.Cell, ok = str(v)
		case "signature":
			s.Signature, ok = str(v)
		case "signed_by":
			s.SignedBy, ok = str(v)
		case "batch_root":
			s.BatchRoot, ok = str(v)
		case "batch_size":
			s.BatchSize, ok = num(v)
		case "batch_index":
			s.BatchIndex, ok = num(v)
		case "batch_proof":
			if len(v) < 2 || v[0] != '[' || v[len(v)-1] != ']' {
				return s, false
			}
			s.BatchProof = make([]string, 0, 16)
			for j := 1; j < len(v)-1; {
				je := skipString(v, j)
				p, ok := str(v[j:je])
				if !ok {
					return s, false
				}
				s.BatchProof = append(s.BatchProof, p)
				if je < len(v)-1 && (v[je] != ',' || je+1 == len(v)-1) {
					return s, false
				}
				j = je + 1
			}
		default:
			return s, false
		}
		if !ok {
			return s, false
		}
		switch {
		case ve < len(b)-1 && b[ve] == ',':
			i = ve + 1
		case ve == len(b)-1:
			return s, true
		default:
			return s, false
		}
	}
}
