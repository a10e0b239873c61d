package pattern

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// Values taken from observed data are Go values decoded from JSON (see
// Observation). Pattern literals become int64, float64, string, bool,
// []byte or time.Time. The comparisons below reproduce the reference
// matcher's type tables (STIX 2.1 §9.4): only listed type pairs compare;
// bool never equals a number, except in IN, where the reference uses
// Python set membership and true equals 1.

// numeric classifies v: 1 for an integer, 2 for a float, 0 otherwise.
func numeric(v any) (int, int64, float64) {
	switch n := v.(type) {
	case int64:
		return 1, n, 0
	case int:
		return 1, int64(n), 0
	case int32:
		return 1, int64(n), 0
	case uint32:
		return 1, int64(n), 0
	case float64:
		return 2, 0, n
	case float32:
		return 2, 0, float64(n)
	case json.Number:
		switch x := jsonNumber(n).(type) {
		case int64:
			return 1, x, 0
		case float64:
			return 2, 0, x
		}
	}
	return 0, 0, 0
}

// cmpIntFloat compares an integer with a float exactly, as Python does.
func cmpIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 2 // unordered
	case f >= 9.223372036854775807e18:
		return -1
	case f < -9.223372036854775808e18:
		return 1
	}
	t := math.Trunc(f)
	ti := int64(t)
	switch {
	case i < ti:
		return -1
	case i > ti:
		return 1
	case f > t:
		return -1
	case f < t:
		return 1
	}
	return 0
}

// cmpNum compares two numbers; 2 means unordered (NaN).
func cmpNum(ka int, ia int64, fa float64, kb int, ib int64, fb float64) int {
	switch {
	case ka == 1 && kb == 1:
		switch {
		case ia < ib:
			return -1
		case ia > ib:
			return 1
		}
		return 0
	case ka == 1:
		return cmpIntFloat(ia, fb)
	case kb == 1:
		c := cmpIntFloat(ib, fa)
		if c == 2 {
			return 2
		}
		return -c
	}
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	case fa == fb:
		return 0
	}
	return 2
}

// pyEqual is the reference's equality table; ok is false when the types
// have no equality function (the comparison is then false).
func pyEqual(a, b any) (eq, ok bool) {
	ka, ia, fa := numeric(a)
	kb, ib, fb := numeric(b)
	if ka != 0 && kb != 0 {
		return cmpNum(ka, ia, fa, kb, ib, fb) == 0, true
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return x == y, true
		case []byte:
			l, can := latin1(x)
			return can && bytes.Equal(l, y), true
		}
	case []byte:
		switch y := b.(type) {
		case []byte:
			return bytes.Equal(x, y), true
		case string:
			l, can := latin1(y)
			return can && bytes.Equal(x, l), true
		}
	case bool:
		if y, is := b.(bool); is {
			return x == y, true
		}
	case time.Time:
		if y, is := b.(time.Time); is {
			return x.Equal(y), true
		}
	}
	return false, false
}

// pyCompare is the reference's ordering table. ok is false when the types
// do not order; valErr reports a string with code points above 255
// compared with binary data, which the reference treats as false.
func pyCompare(a, b any) (c int, ok, valErr bool) {
	ka, ia, fa := numeric(a)
	kb, ib, fb := numeric(b)
	if ka != 0 && kb != 0 {
		r := cmpNum(ka, ia, fa, kb, ib, fb)
		if r == 2 {
			return 0, true, true
		}
		return r, true, false
	}
	switch x := a.(type) {
	case string:
		switch y := b.(type) {
		case string:
			return strings.Compare(x, y), true, false
		case []byte:
			l, can := latin1(x)
			if !can {
				return 0, true, true
			}
			return bytes.Compare(l, y), true, false
		}
	case []byte:
		switch y := b.(type) {
		case []byte:
			return bytes.Compare(x, y), true, false
		case string:
			l, can := latin1(y)
			if !can {
				return 0, true, true
			}
			return bytes.Compare(x, l), true, false
		}
	case time.Time:
		if y, is := b.(time.Time); is {
			return x.Compare(y), true, false
		}
	}
	return 0, false, false
}

// pyIn is Python's "value in set" for the hashable values a pattern set
// can hold: numbers (and booleans as 0/1) compare numerically, strings,
// bytes and timestamps by equality.
func pyIn(v any, set []any) bool {
	kv, iv, fv := numericOrBool(v)
	for _, m := range set {
		if kv != 0 {
			if km, im, fm := numericOrBool(m); km != 0 && cmpNum(kv, iv, fv, km, im, fm) == 0 {
				return true
			}
			continue
		}
		switch x := v.(type) {
		case string:
			if y, ok := m.(string); ok && x == y {
				return true
			}
		case []byte:
			if y, ok := m.([]byte); ok && bytes.Equal(x, y) {
				return true
			}
		case time.Time:
			if y, ok := m.(time.Time); ok && x.Equal(y) {
				return true
			}
		}
	}
	return false
}

func numericOrBool(v any) (int, int64, float64) {
	if b, ok := v.(bool); ok {
		if b {
			return 1, 1, 0
		}
		return 1, 0, 0
	}
	return numeric(v)
}

// literalValue converts a literal to the value the reference compares.
func literalValue(l Literal) (any, error) {
	if l.Err != nil {
		return nil, matchErrf("Invalid %s literal: %s", l.Kind, l.Text)
	}
	switch l.Kind {
	case LitInt:
		return l.Int, nil
	case LitFloat:
		return l.Float, nil
	case LitString:
		return l.Str, nil
	case LitBool:
		return l.Bool, nil
	case LitBinary, LitHex:
		return l.Bytes, nil
	default:
		return l.Time, nil
	}
}
