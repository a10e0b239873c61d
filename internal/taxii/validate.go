package taxii

import (
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/jointcell/jointcell/internal/pattern"
	"github.com/jointcell/jointcell/internal/stix"
)

// maxMessages bounds the problems quoted in one status message.
const maxMessages = 5

// invalidObjects validates the objects of one envelope and returns, per
// index, why the object cannot be stored ("" when it can). The envelope is
// validated as a whole, which also applies the rules that span objects
// (a revoked object stays revoked, marking definitions are never
// versioned; STIX 2.1 §3.6, §7.2.1). Only errors (MUSTs) refuse an object:
// producers differ in how closely they follow the SHOULDs, and refusing
// them would only lose intelligence.
//
// Those rules only relate objects that share an id, so a large envelope is
// validated in parts on every CPU: the objects whose id appears more than
// once together, the others split evenly. Each object gets the same
// messages as from validating the envelope at once.
func invalidObjects(objs []stix.Object) []string {
	out := make([]string, len(objs))
	parts := min(runtime.GOMAXPROCS(0), len(objs)/minValidatePart)
	if parts <= 1 {
		validatePart(objs, nil, out)
		return out
	}
	seen := make(map[string]int, len(objs))
	for _, o := range objs {
		seen[o.ID]++
	}
	var shared, single []int
	for i, o := range objs {
		if seen[o.ID] > 1 {
			shared = append(shared, i)
		} else {
			single = append(single, i)
		}
	}
	var wg sync.WaitGroup
	size := (len(single) + parts - 1) / parts
	for len(single) > 0 {
		part := single[:min(size, len(single))]
		single = single[len(part):]
		wg.Go(func() { validatePart(objs, part, out) })
	}
	if len(shared) > 0 {
		validatePart(objs, shared, out)
	}
	wg.Wait()
	return out
}

// minValidatePart is the fewest objects worth validating on a goroutine of
// their own.
const minValidatePart = 32

// validatePart validates the objects of objs at the indexes idx (all of
// them when idx is nil) as one envelope and writes their messages to out.
func validatePart(objs []stix.Object, idx []int, out []string) {
	part := objs
	if idx != nil {
		part = make([]stix.Object, len(idx))
		for j, i := range idx {
			part[j] = objs[i]
		}
	}
	at := func(j int) int {
		if idx == nil {
			return j
		}
		return idx[j]
	}
	msgs := map[int][]string{}
	for _, p := range stix.ValidateAll(part, stix.Options{Pattern: pattern.Validate}) {
		if p.Severity != stix.Error {
			continue
		}
		j, rest, ok := objectIndex(p.Path)
		if !ok || j >= len(part) {
			// Not attributable by position: blame every object with the id
			// (objects sharing an id are validated together).
			for j, o := range part {
				if o.ID == p.ObjectID {
					msgs[at(j)] = appendMessage(msgs[at(j)], p.Path, p.Message)
				}
			}
			continue
		}
		msgs[at(j)] = appendMessage(msgs[at(j)], rest, p.Message)
	}
	for i, m := range msgs {
		out[i] = strings.Join(m, "; ")
	}
}

func appendMessage(ms []string, path, msg string) []string {
	switch {
	case len(ms) > maxMessages:
		return ms
	case len(ms) == maxMessages:
		return append(ms, "...")
	case path != "" && !strings.HasPrefix(msg, path):
		return append(ms, path+": "+msg)
	default:
		return append(ms, msg)
	}
}

// objectIndex splits a ValidateAll path "objects.[i].rest" into i and rest.
func objectIndex(path string) (int, string, bool) {
	s, ok := strings.CutPrefix(path, "objects.[")
	if !ok {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(s, "]")
	if !ok {
		return 0, "", false
	}
	i, err := strconv.Atoi(num)
	if err != nil || i < 0 {
		return 0, "", false
	}
	return i, strings.TrimPrefix(rest, "."), true
}
