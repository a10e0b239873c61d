package stix

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// parseTSReference is parseTS as it was before scanTS computed the
// instant itself: the fields handed to time.Date. The tests hold the fast
// parser to it.
func parseTSReference(b []byte) (t time.Time, frac int, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, 0, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, 0, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, 0, false
	}
	nsec := 0
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) == 1 {
			return time.Time{}, 0, false
		}
		digits := rest[1:]
		for i, c := range digits {
			if c < '0' || c > '9' {
				return time.Time{}, 0, false
			}
			if i < 9 {
				nsec = nsec*10 + int(c-'0')
			}
		}
		frac = len(digits)
		for i := frac; i < 9; i++ {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), frac, true
}

// randomTimestamp writes a timestamp whose fields are mostly in range,
// sometimes just out of it, with 0 to 12 fractional digits, and sometimes
// one byte changed.
func randomTimestamp(r *rand.Rand) []byte {
	pick := func(lo, hi int) int { return lo + r.IntN(hi-lo+1) }
	year := pick(0, 9999)
	if r.IntN(4) == 0 {
		year = []int{0, 1, 399, 400, 1600, 1900, 1969, 1970, 2000, 2100, 2400, 9999}[r.IntN(12)]
	}
	s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", year, pick(0, 13), pick(0, 32), pick(0, 24), pick(0, 60), pick(57, 61))
	if n := r.IntN(13); n > 0 {
		s += "."
		for range n {
			s += string(rune('0' + r.IntN(10)))
		}
	}
	b := []byte(s + "Z")
	if r.IntN(8) == 0 {
		b[r.IntN(len(b))] = "0123456789-:TZ.x "[r.IntN(17)]
	}
	return b
}

// TestParseTSMatchesReference holds scanTS and parseTS to the time.Date
// parser: same acceptance, same fraction, the same time.Time (== compares
// the location too), and instants that order as the time.Time values do.
func TestParseTSMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	fixed := []string{
		"2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z", "2016-12-31T23:59:60.5Z", "0000-01-01T00:00:00Z",
		"0000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2000-02-29T12:00:00.000Z", "9999-12-31T23:59:60.999999999Z",
		"1969-12-31T23:59:59.999Z", "1970-01-01T00:00:00.0000000001Z", "2016-05-12T08:17:27.000Z", "2016-05-12T08:17:27Z",
		"2016-05-12T08:17:27.Z", "2016-05-12t08:17:27Z", "2016-05-12T08:17:27+00:00", "",
	}
	var prev struct {
		t    time.Time
		sec  int64
		nsec int
		ok   bool
	}
	for i := range 200000 {
		var b []byte
		if i < len(fixed) {
			b = []byte(fixed[i])
		} else {
			b = randomTimestamp(r)
		}
		wantT, wantFrac, wantOK := parseTSReference(b)
		gotT, gotFrac, gotOK := parseTS(b)
		sec, nsec, frac, ok := scanTS(b)
		if gotOK != wantOK || gotFrac != wantFrac || gotT != wantT || ok != wantOK || frac != wantFrac {
			t.Fatalf("%q: parseTS %v %d %v, scanTS ok %v frac %d, want %v %d %v", b, gotT, gotFrac, gotOK, ok, frac, wantT, wantFrac, wantOK)
		}
		if !ok {
			continue
		}
		if sec != wantT.Unix() || nsec != wantT.Nanosecond() {
			t.Fatalf("%q: scanTS %d.%09d, want %d.%09d", b, sec, nsec, wantT.Unix(), wantT.Nanosecond())
		}
		if prev.ok {
			a, c := instant{sec: prev.sec, nsec: prev.nsec}, instant{sec: sec, nsec: nsec}
			if a.before(c) != prev.t.Before(wantT) || c.before(a) != wantT.Before(prev.t) {
				t.Fatalf("%q and %v: instants order unlike the times", b, prev.t)
			}
		}
		prev.t, prev.sec, prev.nsec, prev.ok = wantT, sec, nsec, true
	}
}
