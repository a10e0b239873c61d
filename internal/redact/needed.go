package redact

import "bytes"

// needed is a cheap test on the raw bytes: can p change this object at all?
// It keeps the read path from parsing objects that have nothing to redact:
// one walk over the top-level properties, skipping each value with
// IndexByte, looks only at what p acts on for an object of type typ:
//
//   - a property named by a drop or pseudonymise rule for typ or "*";
//   - a scrub property whose value may hold an e-mail address or a
//     telephone number (mayHavePII on its bytes, as Apply would find them);
//   - with PseudonymiseIDs, the id of an object of a listed type, and the
//     *_ref, *_refs and nested values (where profile rewrites references)
//     that hold such an id.
//
// Anything it cannot read quickly (an escaped key, malformed JSON) counts
// as a change, so that Apply decides.
func (r *Redactor) needed(raw []byte, typ string, p *Profile) bool {
	if p.IsZero() {
		return false
	}
	p.compile()
	typed := p.ruleKey[typ]
	star := p.ruleKey["*"]
	ids := len(p.idKeys) > 0
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return true
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return false
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return true
		}
		// Keys are short and, when they matter, unescaped: a plain loop.
		end := i + 1
		for end < len(raw) && raw[end] != '"' && raw[end] != '\\' {
			end++
		}
		if end >= len(raw) || raw[end] == '\\' {
			return true
		}
		end++
		qkey := raw[i:end] // with its quotes
		key := qkey[1 : len(qkey)-1]
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return true
		}
		i = skipWS(raw, i+1)
		vend := fastSkipValue(raw, i)
		if vend < 0 {
			return true
		}
		val := raw[i:vend]
		for _, k := range typed {
			if bytes.Equal(k, qkey) {
				return true
			}
		}
		for _, k := range star {
			if bytes.Equal(k, qkey) {
				return true
			}
		}
		if len(p.Scrub) > 0 && scrubKey(p, key) && (val[0] != '"' || mayHavePII(val[1:len(val)-1])) {
			return true
		}
		if ids {
			switch {
			case string(key) == "id":
				for _, t := range p.PseudonymiseIDs {
					if t == typ {
						return true
					}
				}
			case val[0] == '"':
				// A string is rewritten only as a whole reference
				// (refID), under a *_ref or *_refs key.
				if (bytes.HasSuffix(key, []byte("_ref")) || bytes.HasSuffix(key, []byte("_refs"))) && hasIDPrefix(val, p.idKeys) {
					return true
				}
			case val[0] == '{' || val[0] == '[':
				if mayHoldID(val, p.idKeys) {
					return true
				}
			}
		}
		i = skipWS(raw, vend)
		if i < len(raw) && raw[i] == ',' {
			i = skipWS(raw, i+1)
			continue
		}
		return i >= len(raw) || raw[i] != '}'
	}
}

// scrubKey is scrubField on the bytes of a key, without allocating.
func scrubKey(p *Profile, key []byte) bool {
	for _, f := range p.Scrub {
		if f[len(f)-1] == '*' {
			if bytes.HasPrefix(key, []byte(f[:len(f)-1])) {
				return true
			}
		} else if string(key) == f {
			return true
		}
	}
	return false
}

// fastSkipString returns the index just after the string starting at
// raw[i] (a quote), or -1 when it is not terminated.
func fastSkipString(raw []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(raw[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		// The quote ends the string unless an odd number of
		// backslashes precede it.
		n := 0
		for b := j - 1; b > i && raw[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		j++
	}
}

// fastSkipValue returns the index just after the value starting at
// raw[i], or -1 when it cannot tell (it does not validate literals).
func fastSkipValue(raw []byte, i int) int {
	if i >= len(raw) {
		return -1
	}
	switch raw[i] {
	case '"':
		return fastSkipString(raw, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				end := fastSkipString(raw, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(raw) {
		switch raw[j] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if j == i {
				return -1
			}
			return j
		}
		j++
	}
	return -1
}

// hasIDPrefix reports whether the JSON string val may be an id of a type
// whose ids are pseudonymised: it starts with one of keys (`"type--`), or
// has an escape.
func hasIDPrefix(val []byte, keys [][]byte) bool {
	for _, k := range keys {
		if bytes.HasPrefix(val, k) {
			return true
		}
	}
	return bytes.IndexByte(val, '\\') >= 0
}
