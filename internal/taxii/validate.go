package taxii

import (
	"strconv"
	"strings"

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
func invalidObjects(objs []stix.Object) []string {
	msgs := make([][]string, len(objs))
	for _, p := range stix.ValidateAll(objs, stix.Options{Pattern: pattern.Validate}) {
		if p.Severity != stix.Error {
			continue
		}
		i, rest, ok := objectIndex(p.Path)
		if !ok || i >= len(objs) {
			// Not attributable by position: blame every object with the id.
			for j, o := range objs {
				if o.ID == p.ObjectID {
					msgs[j] = appendMessage(msgs[j], p.Path, p.Message)
				}
			}
			continue
		}
		msgs[i] = appendMessage(msgs[i], rest, p.Message)
	}
	out := make([]string, len(objs))
	for i, m := range msgs {
		out[i] = strings.Join(m, "; ")
	}
	return out
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
