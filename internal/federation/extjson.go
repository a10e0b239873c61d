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
// it does in UTF-16. Eight bytes at a time (base64 and hex strings are most
// of a provenance extension): a word is plain when no byte has its top bit,
// is below 0x20, or is '"' or '\\'.
func plain[T string | []byte](s T) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q, b := w^(ones*'"'), w^(ones*'\\')
		// (x - ones) &^ x has a top bit set when, and only when, some
		// byte of x is 0 (q and b: '"' and '\\' in w); (w - 0x20*ones) &^ w
		// when some byte of w is below 0x20 (w's own top bits checked).
		if (w|(w-ones*0x20)&^w|(q-ones)&^q|(b-ones)&^b)&highs != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
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

// extPlace is where the provenance extension goes in a canonical body
// that has none: at offset at, either inside the body's extensions object
// or, when it has none (wrap), in a new extensions member; before and after
// say whether the new member needs a comma on either side.
type extPlace struct {
	at            int
	wrap          bool
	before, after bool
}

// spliceOverhead bounds what extPlace adds around the extension's value.
const spliceOverhead = len(`,"extensions":{`) + len(Extension) + len(`"":},`)

// placeExt returns where the provenance extension goes in the canonical
// body, or false when the direct path does not apply: extensions is not
// an object, a name before the place is not plain, or the extension is
// already there.
func placeExt(body []byte) (extPlace, bool) {
	if ks, _, vs, ve := findMember(body, extsKey); ks >= 0 {
		if body[vs] != '{' {
			return extPlace{}, false
		}
		exts := body[vs:ve]
		at, ok := memberPlace(exts, Extension)
		if !ok {
			return extPlace{}, false
		}
		return extPlace{at: vs + at, before: at > 1 && exts[at-1] != ',', after: exts[at] != '}'}, true
	}
	at, ok := memberPlace(body, "extensions")
	if !ok {
		return extPlace{}, false
	}
	return extPlace{at: at, wrap: true, before: at > 1 && body[at-1] != ',', after: body[at] != '}'}, true
}

// memberPlace returns the offset in the canonical object obj where the
// member named key goes (its sorted place), or false when a name of obj
// before it is not plain or key is already there.
func memberPlace(obj []byte, key string) (int, bool) {
	for i := 1; i < len(obj) && obj[i] == '"'; {
		ke := skipString(obj, i)
		k := obj[i+1 : ke-1]
		if !plain(k) {
			return 0, false
		}
		if c := bytes.Compare(k, []byte(key)); c == 0 {
			return 0, false
		} else if c > 0 {
			return i, true
		}
		ve := skipValue(obj, ke+1)
		if ve >= len(obj) || obj[ve] != ',' {
			break
		}
		i = ve + 1
	}
	return len(obj) - 1, true // before the closing brace
}

// appendHead appends body up to p and what opens the provenance extension
// member there, up to its value.
func (p extPlace) appendHead(dst, body []byte) []byte {
	dst = append(dst, body[:p.at]...)
	if p.before {
		dst = append(dst, ',')
	}
	if p.wrap {
		dst = append(dst, `"extensions":{`...)
	}
	dst = append(dst, extKey...)
	return append(dst, ':')
}

// appendTail appends what closes the member appendHead opened, then the
// rest of body.
func (p extPlace) appendTail(dst, body []byte) []byte {
	if p.wrap {
		dst = append(dst, '}')
	}
	if p.after {
		dst = append(dst, ',')
	}
	return append(dst, body[p.at:]...)
}

// spliceExtension returns the canonical body with the provenance extension
// eb (canonical) added, or false when the direct path does not apply.
func spliceExtension(body, eb []byte) ([]byte, bool) {
	p, ok := placeExt(body)
	if !ok {
		return nil, false
	}
	out := p.appendHead(make([]byte, 0, len(body)+len(eb)+spliceOverhead), body)
	out = append(out, eb...)
	return p.appendTail(out, body), true
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

// parseExtDirect is parseExt's direct path: false when it does not apply.
func parseExtDirect(b []byte) (sigExt, bool) {
	v, ok := readExt(b)
	if !ok {
		return sigExt{}, false
	}
	s := sigExt{ExtensionType: string(v.extType), Cell: string(v.cell), Signature: string(v.signature),
		SignedBy: string(v.signedBy), BatchRoot: string(v.root), BatchSize: v.size, BatchIndex: v.index}
	if v.proof != nil {
		s.BatchProof = make([]string, 0, v.nproof)
		for p, j, ok := nextProof(v.proof, 1); ok; p, j, ok = nextProof(v.proof, j) {
			s.BatchProof = append(s.BatchProof, string(p))
		}
	}
	return s, true
}

// extView is a provenance extension as readExt reads it, without copying:
// its string members are slices of the extension's bytes, without the
// quotes (nil when absent), and batch_proof is the text of the array,
// brackets included, which nextProof walks.
type extView struct {
	extType, cell, signature, signedBy, root []byte
	size, index                              int
	proof                                    []byte
	nproof                                   int // entries in proof
}

// readExt reads the provenance extension b when it is in the form this
// package writes: an object of the members of sigExt, strings plain,
// numbers non-negative integers without sign, exponent or leading zero,
// and batch_proof an array of plain strings. It accepts nothing that
// json.Unmarshal into sigExt would refuse, and reads the same values
// (FuzzParseExt checks both); false when the form is any other.
func readExt(b []byte) (extView, bool) {
	var s extView
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return s, false
	}
	str := func(v []byte) ([]byte, bool) {
		if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' || !plain(v[1:len(v)-1]) {
			return nil, false
		}
		return v[1 : len(v)-1], true
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
		name := b[i+1 : ke-1]
		if string(name) == "batch_proof" {
			// Read as it is skipped: it is most of the extension.
			ve, n, ok := readProof(b, ke+1)
			if !ok {
				return s, false
			}
			s.proof, s.nproof = b[ke+1:ve], n
			i = ve
		} else {
			ve := skipValue(b, ke+1)
			if ve > len(b) {
				return s, false
			}
			v := b[ke+1 : ve]
			ok := true
			switch string(name) {
			case "extension_type":
				s.extType, ok = str(v)
			case "cell":
				s.cell, ok = str(v)
			case "signature":
				s.signature, ok = str(v)
			case "signed_by":
				s.signedBy, ok = str(v)
			case "batch_root":
				s.root, ok = str(v)
			case "batch_size":
				s.size, ok = num(v)
			case "batch_index":
				s.index, ok = num(v)
			default:
				return s, false
			}
			if !ok {
				return s, false
			}
			i = ve
		}
		switch {
		case i < len(b)-1 && b[i] == ',':
			i++
		case i == len(b)-1:
			return s, true
		default:
			return s, false
		}
	}
}

// readProof reads the batch_proof array at b[i]: plain strings separated
// by commas. It returns the offset after it and the number of entries.
// Entries of 44 bytes (the base64 of a hash) are read without a search
// for their end.
func readProof(b []byte, i int) (end, n int, ok bool) {
	if i+1 >= len(b) || b[i] != '[' {
		return 0, 0, false
	}
	if b[i+1] == ']' {
		return i + 2, 0, true
	}
	for j := i + 1; j < len(b) && b[j] == '"'; n++ {
		je := j + 1 + base64Len32
		if je >= len(b) || b[je] != '"' || !plain(b[j+1:je]) {
			je = skipString(b, j) - 1
			if je >= len(b) || b[je] != '"' || !plain(b[j+1:je]) {
				return 0, 0, false
			}
		}
		// b[je] is the closing quote.
		switch {
		case je+1 < len(b) && b[je+1] == ',':
			j = je + 2
		case je+1 < len(b) && b[je+1] == ']':
			return je + 2, n + 1, true
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// nextProof returns the entry of the batch_proof array text v that starts
// at v[j] (1 for the first), without its quotes, and the offset of the
// next; false after the last. v is an array of JSON strings separated by
// commas, as readExt accepts or json.Marshal writes.
func nextProof(v []byte, j int) ([]byte, int, bool) {
	if j >= len(v)-1 {
		return nil, j, false
	}
	je := skipString(v, j)
	return v[j+1 : je-1], je + 1, true
}

// len returns the length of what appendHead and appendTail add to the
// body.
func (p extPlace) len() int {
	n := len(extKey) + 1
	if p.wrap {
		n += len(`"extensions":{}`)
	}
	if p.before {
		n++
	}
	if p.after {
		n++
	}
	return n
}
