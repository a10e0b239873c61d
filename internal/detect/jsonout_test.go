package detect

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
)

func checkMarshal(t *testing.T, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := marshalJSON(v)
	if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("%#v:\nappendJSON   %s (%v)\njson.Marshal %s (%v)", v, got, gerr, want, werr)
	}
}

// TestAppendJSONMatchesMarshal: the evidence encoder writes what
// json.Marshal writes.
func TestAppendJSONMatchesMarshal(t *testing.T) {
	var all []byte
	for b := 0; b < 256; b++ {
		all = append(all, byte(b))
	}
	strs := []string{"", "plain", string(all), "a\u2028b\u2029c", "<script>&amp;</script>", "caf\u00e9 \U0001F600", "\xff\xfe bad", "tab\there\"quote\\"}
	for _, s := range strs {
		checkMarshal(t, s)
		checkMarshal(t, map[string]any{s: s})
	}
	checkMarshal(t, map[string]any{
		"type":         "network-traffic",
		"src_port":     int64(51234),
		"protocols":    []any{"tcp", "ipv4"},
		"is_multipart": false,
		"extensions":   map[string]any{"http-request-ext": map[string]any{"request_header": map[string]any{"User-Agent": "Mozilla/5.0 <x>"}}},
		"size":         1.5,
		"big":          1e21,
		"tiny":         1e-7,
		"n":            nil,
		"refs":         []string{"a", "b"},
		"none":         []string(nil),
		"any":          json.Number("12"),
		"B":            1,
		"a":            int(2),
		"_":            []any{map[string]any{"z": 1.0, "y": []any{}}},
	})
	checkMarshal(t, math.Inf(1))
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("<\u2028\xff\x00>")
	f.Fuzz(func(t *testing.T, s string) { checkMarshal(t, map[string]any{s: []any{s, int64(len(s))}}) })
}
