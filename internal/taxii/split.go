package taxii

import "encoding/json"

// envelopeOverhead is the size of `{"objects":[]}`.
const envelopeOverhead = len(`{"objects":[]}`)

// MaxEnvelopeObjects bounds an envelope SplitEnvelopes makes in objects as
// well as bytes, so that one status stays a reasonable size.
const MaxEnvelopeObjects = 10000

// SplitEnvelopes groups objects, in order, into envelopes whose encoding
// fits in limit bytes: a server refuses a larger request body with 413
// (TAXII 2.1 §4.2, max_content_length). Objects that alone exceed the
// limit are returned apart, by index: no envelope to that server can
// carry them.
func SplitEnvelopes(objs []json.RawMessage, limit int64) (batches [][]json.RawMessage, tooBig []int) {
	var cur []json.RawMessage
	size := int64(envelopeOverhead)
	for i, o := range objs {
		n := int64(len(o)) + 1 // the comma
		if int64(envelopeOverhead)+n > limit {
			tooBig = append(tooBig, i)
			continue
		}
		if len(cur) > 0 && (size+n > limit || len(cur) == MaxEnvelopeObjects) {
			batches = append(batches, cur)
			cur, size = nil, int64(envelopeOverhead)
		}
		cur = append(cur, o)
		size += n
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches, tooBig
}
