package taxii

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestSplitEnvelopes(t *testing.T) {
	obj := func(n int) json.RawMessage { return json.RawMessage(`"` + strings.Repeat("a", n-2) + `"`) }
	sizes := func(batches [][]json.RawMessage) [][]int {
		var out [][]int
		for _, b := range batches {
			var s []int
			for _, o := range b {
				s = append(s, len(o))
			}
			out = append(out, s)
		}
		return out
	}
	tests := []struct {
		name   string
		objs   []int
		limit  int64
		want   [][]int
		tooBig []int
	}{
		{"all in one", []int{10, 10, 10}, 1000, [][]int{{10, 10, 10}}, nil},
		// 14 bytes of envelope, 11 per object with its comma: 2 fit in 36.
		{"split by size", []int{10, 10, 10}, 36, [][]int{{10, 10}, {10}}, nil},
		{"exactly the limit", []int{10, 10}, 36, [][]int{{10, 10}}, nil},
		{"one too big alone", []int{10, 100, 10}, 40, [][]int{{10, 10}}, []int{1}},
		{"nothing fits", []int{100}, 40, nil, []int{0}},
		{"empty", nil, 40, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var objs []json.RawMessage
			for _, n := range tt.objs {
				objs = append(objs, obj(n))
			}
			batches, tooBig := SplitEnvelopes(objs, tt.limit)
			if got := sizes(batches); !reflect.DeepEqual(got, tt.want) || !reflect.DeepEqual(tooBig, tt.tooBig) {
				t.Fatalf("SplitEnvelopes = %v, %v; want %v, %v", got, tooBig, tt.want, tt.tooBig)
			}
			for _, b := range batches {
				env, _ := json.Marshal(Envelope{Objects: b})
				if int64(len(env)) > tt.limit {
					t.Errorf("an envelope of %d bytes over the limit %d", len(env), tt.limit)
				}
			}
		})
	}
	many := make([]json.RawMessage, MaxEnvelopeObjects+1)
	for i := range many {
		many[i] = obj(2)
	}
	if batches, _ := SplitEnvelopes(many, 1<<30); len(batches) != 2 || len(batches[0]) != MaxEnvelopeObjects {
		t.Errorf("%d objects made %d envelopes", len(many), len(batches))
	}
}
