package stix

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestValidatePatternOption checks that indicators with pattern_type stix
// are handed to the caller's pattern validator, and only those.
func TestValidatePatternOption(t *testing.T) {
	const tmpl = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":%q,"pattern_type":%q,"valid_from":"2016-01-01T00:00:00Z"}`
	var seen []string
	opts := Options{Pattern: func(p string) error {
		seen = append(seen, p)
		if strings.Contains(p, "bad") {
			return errors.New("column 3: bad pattern")
		}
		return nil
	}}
	tests := []struct {
		pattern, patternType string
		wantErr              bool
		wantSeen             bool
	}{
		{"[ipv4-addr:value = '198.51.100.1']", "stix", false, true},
		{"[bad 'quoted \\' pattern']", "stix", true, true},
		{"bad but not STIX", "snort", false, false},
	}
	for _, tt := range tests {
		seen = nil
		o, err := DecodeObject([]byte(fmt.Sprintf(tmpl, tt.pattern, tt.patternType)))
		if err != nil {
			t.Fatal(err)
		}
		probs := Validate(o, opts)
		gotErr := false
		for _, p := range probs {
			if p.Severity == Error && p.Path == "pattern" && strings.Contains(p.Message, "bad pattern") {
				gotErr = true
			}
		}
		if gotErr != tt.wantErr {
			t.Errorf("%q: pattern error = %v, want %v (problems %v)", tt.pattern, gotErr, tt.wantErr, probs)
		}
		if (len(seen) == 1) != tt.wantSeen || (tt.wantSeen && seen[0] != tt.pattern) {
			t.Errorf("%q: checker saw %q", tt.pattern, seen)
		}
	}
}
