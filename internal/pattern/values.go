package pattern

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"time"
)

// Values taken from observed data are Go values decoded from JSON (see
// Observation). Pattern literals become int64, float64, string, bool,
// []byte or time.Time. The comparisons below reproduce the reference
// matcher's type tables (STIX 2.1 §9.4): only listed type pairs compare;
// bool never equals a number, except in IN, where the reference uses
// Python set membership and true equals 1.

// num is a Python number: an integer that fits 64 bits (kind numInt), a
// larger integer (numBig) or a float (numFloat).
type num struct {
	kind int
	i    int64
	f    float64
	b    *big.Int
}

const (
	numNone = iota
	numInt
	numFloat
	numBig
)

// numeric classifies v as a Python int or float; bool is not a number
// here (the reference's type tables keep it apart).
func numeric(v any) num {
	switch n := v.(type) {
	case int64:
		return num{kind: numInt, i: n}
	case float64:
		return num{kind: numFloat, f: n}
	case int:
		return num{kind: numInt, i: int64(n)}
	case int32:
		return num{kind: numInt, i: int64(n)}
	case uint32:
		return num{kind: numInt, i: int64(n)}
	case float32:
		return num{kind: numFloat, f: float64(n)}
	case *big.Int:
		if n.IsInt64() {
			return num{kind: numInt, i: n.Int64()}
		}
		return num{kind: numBig, b: n}
	case json.Number:
		return numeric(jsonNumber(n))
	}
	return num{}
}

// cmpIntFloat compares an integer with a float exactly, as Python does;
// 2 means unordered (NaN).
func cmpIntFloat(i int64, f float64) int {
	switch {
	case math.IsNaN(f):
		return 2
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

func (n num) bigInt() *big.Int {
	if n.kind == numBig {
		return n.b
	}
	return big.NewInt(n.i)
}

// cmpNum compares two numbers exactly; 2 means unordered (NaN).
func cmpNum(a, b num) int {
	switch {
	case a.kind == numInt && b.kind == numInt:
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	case a.kind == numFloat && b.kind == numFloat:
		switch {
		case a.f < b.f:
			return -1
		case a.f > b.f:
			return 1
		case a.f == b.f:
			return 0
		}
		return 2
	case a.kind == numInt && b.kind == numFloat:
		return cmpIntFloat(a.i, b.f)
	case a.kind == numFloat && b.kind == numInt:
		c := cmpIntFloat(b.i, a.f)
		if c == 2 {
			return 2
		}
		return -c
	case a.kind == numFloat || b.kind == numFloat:
		// A big integer and a float: c compares the integer to the float.
		bi, f, sign := a.bigInt(), b.f, 1
		if a.kind == numFloat {
			bi, f, sign = b.bigInt(), a.f, -1
		}
		var c int
		switch {
		case math.IsNaN(f):
			return 2
		case math.IsInf(f, 1):
			c = -1
		case math.IsInf(f, -1):
			c = 1
		default:
			c = new(big.Float).SetInt(bi).Cmp(big.NewFloat(f))
		}
		return sign * c
	}
	return a.bigInt().Cmp(b.bigInt())
}

// pyEqual is the reference's equality table; ok is false when the types
// have no equality function (the comparison is then false).
func pyEqual(a, b any) (eq, ok bool) {
	na, nb := numeric(a), numeric(b)
	if na.kind != numNone && nb.kind != numNone {
		return cmpNum(na, nb) == 0, true
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
// compared with binary data, which the reference treats as false. NaN
// compares as equal to everything, as Python's (a > b) - (a < b) does.
func pyCompare(a, b any) (c int, ok, valErr bool) {
	na, nb := numeric(a), numeric(b)
	if na.kind != numNone && nb.kind != numNone {
		r := cmpNum(na, nb)
		if r == 2 {
			r = 0
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
	nv := numericOrBool(v)
	for _, m := range set {
		if nv.kind != numNone {
			if nm := numericOrBool(m); nm.kind != numNone && cmpNum(nv, nm) == 0 {
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

func numericOrBool(v any) num {
	if b, ok := v.(bool); ok {
		if b {
			return num{kind: numInt, i: 1}
		}
		return num{kind: numInt}
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
		if l.big != nil {
			return l.big, nil
		}
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
