package taxii

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/jointcell/jointcell/internal/store"
)

// TestInvalidObjectsParts checks that validating a large envelope in
// parts gives every object the messages that validating it at once gives,
// the rules that span objects included.
func TestInvalidObjectsParts(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	var raws []string
	for n := range 500 {
		switch n % 10 {
		case 1: // bad pattern
			raws = append(raws, fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%s","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = ","pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z"}`, uuidN(n)))
		case 2: // missing required properties
			raws = append(raws, fmt.Sprintf(`{"type":"malware","spec_version":"2.1","id":"malware--%s"}`, uuidN(n)))
		case 3: // revoked, then a later version of the same object that is not
			raws = append(raws, indicator(n, "2020-01-01T00:00:00.000Z", `"revoked":true`), indicator(n, "2021-01-01T00:00:00.000Z"))
		case 4: // a marking definition twice with different content
			id := "marking-definition--" + uuidN(n)
			for _, s := range []string{"a", "b"} {
				raws = append(raws, fmt.Sprintf(`{"type":"marking-definition","spec_version":"2.1","id":%q,"created":"2020-01-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":%q}}`, id, s))
			}
		case 5: // no id at all
			raws = append(raws, `{"type":"indicator","spec_version":"2.1"}`)
		default:
			raws = append(raws, indicator(n, "2020-01-01T00:00:00.000Z"))
		}
	}
	objs, err := DecodeEnvelope(envelope(raws...))
	if err != nil {
		t.Fatal(err)
	}
	whole := make([]string, len(objs))
	validatePart(objs, nil, whole)
	parts := invalidObjects(objs)
	if !slices.Equal(parts, whole) {
		for i := range whole {
			if parts[i] != whole[i] {
				t.Errorf("object %d: %q in parts, %q at once", i, parts[i], whole[i])
			}
		}
	}
	var bad int
	for _, m := range whole {
		if m != "" {
			bad++
		}
	}
	if bad < len(objs)/4 {
		t.Errorf("only %d of %d objects refused: the test objects are not what they should be", bad, len(objs))
	}
	for _, want := range []string{"revoked must stay true", "cannot be versioned", "pattern"} {
		if !slices.ContainsFunc(whole, func(m string) bool { return strings.Contains(m, want) }) {
			t.Errorf("no object refused with %q", want)
		}
	}
}

// separateStatuses hides that the store can write versions and statuses
// in one transaction, so that the handler writes them one after the other.
type separateStatuses struct{ store.Statuses }

// TestAddObjectsStatusPaths posts the same envelope through a store that
// writes versions and status together and through one that cannot: the
// statuses are alike and both stored.
func TestAddObjectsStatusPaths(t *testing.T) {
	for _, together := range []bool{true, false} {
		f := newFixture(t, func(c *Config) {
			if !together {
				c.Statuses = separateStatuses{c.Statuses}
			}
		})
		if _, ok := f.srv.addsWithStatus(); ok != together {
			t.Fatalf("together %v: addsWithStatus %v", together, ok)
		}
		_, st := f.post(t, "alice", collRW, indicator(1, "2020-01-01T00:00:00.000Z"), indicator(1, "2020-01-01T00:00:00.000Z"),
			`{"type":"indicator","spec_version":"2.1","id":"indicator--`+uuidN(2)+`"}`)
		if st.SuccessCount != 2 || st.FailureCount != 1 || st.TotalCount != 3 {
			t.Errorf("together %v: status %+v", together, st)
		}
		var again Status
		f.get(t, "alice", "/api/status/"+st.ID+"/").decode(t, &again)
		if again.ID != st.ID || again.SuccessCount != 2 || again.FailureCount != 1 {
			t.Errorf("together %v: stored status %+v", together, again)
		}
	}
}
