package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"unicode/utf8"
)

// ParseIndicator decodes an indicator from its JSON.
//
// The fields the index reads are taken with the JSON walker of the
// decoders, several times faster than encoding/json; any object the fast
// path is not sure to read exactly as encoding/json would (a field that is
// not a string or boolean, a key differing only in case, invalid UTF-8, a
// syntax error) is decoded again with encoding/json, whose verdict stands.
func ParseIndicator(raw []byte) (Indicator, error) {
	in, ok := parseIndicatorFast(raw)
	if !ok {
		in = Indicator{}
		if err := json.Unmarshal(raw, &in); err != nil {
			return in, fmt.Errorf("detect: decode indicator: %w", err)
		}
	}
	if in.Type != "indicator" {
		return in, fmt.Errorf("detect: object %s is a %s, not an indicator", in.ID, in.Type)
	}
	return in, nil
}

var indicatorFields = [...]string{"id", "type", "pattern", "pattern_type", "valid_from", "valid_until", "modified", "created", "revoked"}

func parseIndicatorFast(raw []byte) (in Indicator, ok bool) {
	w := walker{containers: true}
	ok = true
	s := string(raw) // one copy: the fields are substrings of it
	err := w.walk(s, func(path []byte, v leaf) {
		if !ok {
			return
		}
		top := path
		if i := bytes.IndexByte(path, '.'); i >= 0 {
			top = path[:i]
		}
		var dst *string
		switch string(top) {
		case "id":
			dst = &in.ID
		case "type":
			dst = &in.Type
		case "pattern":
			dst = &in.Pattern
		case "pattern_type":
			dst = &in.PatternType
		case "valid_from":
			dst = &in.ValidFrom
		case "valid_until":
			dst = &in.ValidUntil
		case "modified":
			dst = &in.Modified
		case "created":
			dst = &in.Created
		case "revoked":
			switch {
			case len(top) != len(path) || v.inArray:
				ok = false
			case v.kind == jsonBool:
				in.Revoked = v.s == "true"
			case v.kind != jsonNull: // null leaves the field as it is, as in encoding/json
				ok = false
			}
			return
		default:
			// encoding/json matches keys case-insensitively.
			for _, f := range indicatorFields {
				if len(f) == len(top) && strings.EqualFold(f, string(top)) {
					ok = false
				}
			}
			return
		}
		switch {
		case len(top) != len(path) || v.inArray:
			ok = false
		case v.kind == jsonString:
			if !utf8.ValidString(v.s) {
				ok = false // encoding/json would replace the invalid bytes
			}
			*dst = v.s
		case v.kind != jsonNull:
			ok = false
		}
	})
	return in, ok && err == nil
}

// LineError reports a line of JSON lines that is not JSON.
type LineError struct{ Line int }

func (e *LineError) Error() string { return fmt.Sprintf("line %d: not a JSON object", e.Line) }

// DecodeIndicatorLines reads JSON lines of STIX objects and returns the
// indicators among them, in order, decoding on every core. A line that is
// not valid JSON is a *LineError naming its (1-based) number; other
// objects are skipped.
func DecodeIndicatorLines(data []byte) ([]Indicator, error) {
	type part struct {
		start, end int // byte range, whole lines
		firstLine  int
		lines      int
		n          int // indicators decoded, at out[base:]
		base       int
		errLine    int
	}
	workers := runtime.GOMAXPROCS(0)
	nparts := max(1, min(workers*8, len(data)/(64<<10)))
	parts := make([]part, 0, nparts)
	line := 1
	for start := 0; start < len(data); {
		end := min(len(data), start+len(data)/nparts+1)
		if i := bytes.IndexByte(data[end:], '\n'); i >= 0 {
			end += i + 1
		} else {
			end = len(data)
		}
		n := bytes.Count(data[start:end], []byte{'\n'}) + 1
		parts = append(parts, part{start: start, end: end, firstLine: line, lines: n, base: line - 1})
		line += n - 1
		start = end
	}
	// Each part decodes into its own range of out, one slot a line, so
	// that nothing is copied but to close the gaps of skipped lines.
	out := make([]Indicator, line)
	var wg sync.WaitGroup
	next := make(chan int, len(parts))
	for i := range parts {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				p := &parts[i]
				chunk := data[p.start:p.end]
				for n := p.firstLine; len(chunk) > 0; n++ {
					l := chunk
					if j := bytes.IndexByte(chunk, '\n'); j >= 0 {
						l, chunk = chunk[:j], chunk[j+1:]
					} else {
						chunk = nil
					}
					l = bytes.TrimSpace(l)
					if len(l) == 0 {
						continue
					}
					in, err := ParseIndicator(l)
					if err != nil {
						if !json.Valid(l) {
							p.errLine = n
							break
						}
						continue // another object type
					}
					out[p.base+p.n] = in
					p.n++
				}
			}
		}()
	}
	wg.Wait()
	w := 0
	for _, p := range parts {
		if p.errLine > 0 {
			return nil, &LineError{Line: p.errLine}
		}
		if w != p.base {
			copy(out[w:], out[p.base:p.base+p.n])
		}
		w += p.n
	}
	clear(out[w:])
	return out[:w:w], nil
}

// ParseIndicators decodes the indicators among raws, in order, on every
// core; other objects and undecodable ones are skipped.
func ParseIndicators(raws []json.RawMessage) []Indicator {
	const chunk = 4096
	parts := make([][]Indicator, (len(raws)+chunk-1)/chunk)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for k := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, raw := range raws[k*chunk : min((k+1)*chunk, len(raws))] {
				if in, err := ParseIndicator(raw); err == nil {
					parts[k] = append(parts[k], in)
				}
			}
		}()
	}
	wg.Wait()
	var out []Indicator
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
