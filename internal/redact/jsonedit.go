package redact

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// member is one property of a JSON object, its value kept as the exact bytes
// received so that untouched values are emitted unchanged.
type member struct {
	key string
	val json.RawMessage
}

// splitObject reads the properties of a JSON object in order. raw must be
// valid JSON (stored objects were decoded when they were admitted): the
// scanner finds the extent of each value without decoding it, which keeps
// the read path cheap, and checks only the structure it walks.
func splitObject(raw []byte) ([]member, error) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	ms := make([]member, 0, 16)
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return ms, trailing(raw, i+1)
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, errors.New("object key is not a string")
		}
		end, err := skipString(raw, i)
		if err != nil {
			return nil, err
		}
		key, err := decodeString(raw[i:end])
		if err != nil {
			return nil, err
		}
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, errors.New("missing colon")
		}
		i = skipWS(raw, i+1)
		end, err = skipValue(raw, i)
		if err != nil {
			return nil, err
		}
		ms = append(ms, member{key, json.RawMessage(raw[i:end])})
		i = skipWS(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipWS(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == '}' {
			return ms, trailing(raw, i+1)
		}
		return nil, errors.New("unterminated object")
	}
}

// splitArray reads the elements of a JSON array (see splitObject).
func splitArray(raw []byte) ([]json.RawMessage, error) {
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	var es []json.RawMessage
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return es, trailing(raw, i+1)
	}
	for {
		end, err := skipValue(raw, i)
		if err != nil {
			return nil, err
		}
		es = append(es, json.RawMessage(raw[i:end]))
		i = skipWS(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipWS(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == ']' {
			return es, trailing(raw, i+1)
		}
		return nil, errors.New("unterminated array")
	}
}

func skipWS(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

func trailing(raw []byte, i int) error {
	if skipWS(raw, i) != len(raw) {
		return errors.New("data after the value")
	}
	return nil
}

// skipString returns the index just after the string starting at raw[i].
func skipString(raw []byte, i int) (int, error) {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated string")
}

func decodeString(q []byte) (string, error) {
	if bytes.IndexByte(q, '\\') < 0 {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}

// skipValue returns the index just after the value starting at raw[i].
func skipValue(raw []byte, i int) (int, error) {
	if i >= len(raw) {
		return 0, errors.New("missing value")
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end, err := skipString(raw, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated value")
	}
	j := i
	for j < len(raw) && !strings.ContainsRune(",}] \t\r\n", rune(raw[j])) {
		j++
	}
	if !json.Valid(raw[i:j]) {
		return 0, errors.New("bad literal")
	}
	return j, nil
}

func joinObject(ms []member) []byte {
	n := 2
	for _, m := range ms {
		n += len(m.key) + len(m.val) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQuoted(b, m.key)
		b = append(b, ':')
		b = append(b, m.val...)
	}
	return append(b, '}')
}

func joinArray(es []json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, e := range es {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// quote encodes s as a JSON string without HTML escaping, so that text the
// producer wrote is not needlessly rewritten.
func quote(s string) []byte {
	return appendQuoted(nil, s)
}

// appendQuoted appends quote(s) to b; strings of printable ASCII without
// quotes or backslashes (nearly every key and most values) need no
// encoder.
func appendQuoted(b []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	return append(b, quoteEncoded(s)...)
}

func quoteEncoded(s string) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	return bytes.TrimRight(b.Bytes(), "\n")
}

func kindOf(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// segment is one step of a granular-marking selector (STIX 2.1 §7.2.3.1):
// a property name, or a list index written [n].
type segment struct {
	key   string
	index int // -1 for a property name
}

// parseSelector splits a selector such as "external_references.[1].url".
func parseSelector(sel string) ([]segment, error) {
	if sel == "" {
		return nil, fmt.Errorf("empty selector")
	}
	parts := strings.Split(sel, ".")
	segs := make([]segment, 0, len(parts))
	for _, p := range parts {
		if strings.HasPrefix(p, "[") && strings.HasSuffix(p, "]") {
			n, err := strconv.Atoi(p[1 : len(p)-1])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("selector %q: bad index %q", sel, p)
			}
			segs = append(segs, segment{index: n})
			continue
		}
		if p == "" {
			return nil, fmt.Errorf("selector %q: empty step", sel)
		}
		segs = append(segs, segment{key: p, index: -1})
	}
	return segs, nil
}

// removeAt removes the value selected by segs from raw. It reports the
// length of the path that went (0 when nothing was removed; shorter than
// segs when the removal left a list or object empty, which STIX forbids,
// §3.3, and which went as well) and whether raw itself became empty.
func removeAt(raw json.RawMessage, segs []segment) (out json.RawMessage, depth int, empty bool, err error) {
	seg := segs[0]
	switch kindOf(raw) {
	case '{':
		if seg.index >= 0 {
			return raw, 0, false, nil
		}
		ms, err := splitObject(raw)
		if err != nil {
			return nil, 0, false, err
		}
		for i, m := range ms {
			if m.key != seg.key {
				continue
			}
			drop := len(segs) == 1
			if !drop {
				v, n, emp, err := removeAt(m.val, segs[1:])
				if err != nil || n == 0 {
					return raw, 0, false, err
				}
				ms[i].val, drop = v, emp
				if !drop {
					return joinObject(ms), n + 1, false, nil
				}
			}
			ms = append(ms[:i], ms[i+1:]...)
			return joinObject(ms), 1, len(ms) == 0, nil
		}
	case '[':
		if seg.index < 0 {
			return raw, 0, false, nil
		}
		es, err := splitArray(raw)
		if err != nil {
			return nil, 0, false, err
		}
		if seg.index >= len(es) {
			return raw, 0, false, nil
		}
		drop := len(segs) == 1
		if !drop {
			v, n, emp, err := removeAt(es[seg.index], segs[1:])
			if err != nil || n == 0 {
				return raw, 0, false, err
			}
			es[seg.index], drop = v, emp
			if !drop {
				return joinArray(es), n + 1, false, nil
			}
		}
		es = append(es[:seg.index], es[seg.index+1:]...)
		return joinArray(es), 1, len(es) == 0, nil
	}
	return raw, 0, false, nil
}

// compareSelectors orders selectors so that, removed in this order, the
// removal of a list element never shifts an index another selector still
// has to use: later elements first, children before parents.
func compareSelectors(a, b []segment) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := a[i], b[i]
		switch {
		case x.index >= 0 && y.index >= 0:
			if x.index != y.index {
				return y.index - x.index
			}
		case x.index < 0 && y.index < 0:
			if c := strings.Compare(x.key, y.key); c != 0 {
				return -c
			}
		default:
			return x.index - y.index
		}
	}
	return len(b) - len(a)
}

// shiftSelector adjusts a selector after removed went: it returns ok false
// when sel was removed with it (sel is removed or lies under it), and
// decrements the index of sel that follows a removed list element.
func shiftSelector(sel, removed []segment) ([]segment, bool) {
	if len(sel) >= len(removed) && prefixEqual(sel, removed) {
		return nil, false
	}
	n := len(removed) - 1
	last := removed[n]
	if last.index < 0 || len(sel) <= n || !prefixEqual(sel[:n], removed[:n]) {
		return sel, true
	}
	if sel[n].index > last.index {
		out := append([]segment(nil), sel...)
		out[n].index--
		return out, true
	}
	return sel, true
}

func prefixEqual(sel, prefix []segment) bool {
	for i := range prefix {
		if sel[i] != prefix[i] {
			return false
		}
	}
	return true
}

func formatSelector(segs []segment) string {
	parts := make([]string, len(segs))
	for i, s := range segs {
		if s.index >= 0 {
			parts[i] = "[" + strconv.Itoa(s.index) + "]"
		} else {
			parts[i] = s.key
		}
	}
	return strings.Join(parts, ".")
}

// removeTopLevel is Apply's removal of top-level properties when the
// profile has nothing to do: it gives the same bytes as splitObject,
// removeSelectors and joinObject, without decoding or re-quoting keys.
// It reports false, for the general path to decide (and to report any
// error), unless every selector names one top-level property and every
// key of raw is printable ASCII without escapes (then appendQuoted of the
// decoded key is the key's raw bytes).
func removeTopLevel(raw []byte, remove []string) ([]byte, bool) {
	for _, s := range remove {
		if s == "" || s[0] == '[' || strings.IndexByte(s, '.') >= 0 {
			return nil, false
		}
	}
	type span struct{ ks, ke, vs, ve int } // the key with its quotes; the value
	var buf [32]span
	spans := buf[:0]
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		if trailing(raw, i+1) != nil {
			return nil, false
		}
		return raw, true
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, false
		}
		end, err := skipString(raw, i)
		if err != nil {
			return nil, false
		}
		for k := i + 1; k < end-1; k++ {
			if c := raw[k]; c < 0x20 || c > 0x7e || c == '\\' {
				return nil, false
			}
		}
		ks, ke := i, end
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i = skipWS(raw, i+1)
		if end, err = skipValue(raw, i); err != nil {
			return nil, false
		}
		spans = append(spans, span{ks, ke, i, end})
		i = skipWS(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipWS(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == '}' && trailing(raw, i+1) == nil {
			break
		}
		return nil, false
	}
	var gone [][]segment
	kept := spans[:0]
	gran := -1
	for _, sp := range spans {
		key := raw[sp.ks+1 : sp.ke-1]
		hit := false
		for _, s := range remove {
			if string(key) == s {
				hit = true
				// Order and repetition do not matter to fixGranular
				// for top-level selectors.
				gone = append(gone, []segment{{key: s, index: -1}})
				break
			}
		}
		if hit {
			continue
		}
		if gran < 0 && string(key) == "granular_markings" {
			gran = len(kept)
		}
		kept = append(kept, sp)
	}
	if len(gone) == 0 {
		return raw, true
	}
	var gval []byte
	dropGran := false
	if gran >= 0 {
		sp := kept[gran]
		gm, err := fixGranular([]member{{key: "granular_markings", val: raw[sp.vs:sp.ve]}}, gone)
		if err != nil {
			return nil, false
		}
		if len(gm) == 0 {
			dropGran = true
		} else {
			gval = gm[0].val
		}
	}
	out := make([]byte, 0, len(raw)+len(gval))
	out = append(out, '{')
	first := true
	for j, sp := range kept {
		val := raw[sp.vs:sp.ve]
		if j == gran {
			if dropGran {
				continue
			}
			val = gval
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, raw[sp.ks:sp.ke]...)
		out = append(out, ':')
		out = append(out, val...)
	}
	return append(out, '}'), true
}
