package stix

import (
	"errors"
	"fmt"
	"time"
)

// ErrTimestamp is wrapped by ParseTimestamp errors.
var ErrTimestamp = errors.New("stix: invalid timestamp")

// ParseTimestamp parses a STIX timestamp strictly (STIX 2.1 §3.2): RFC 3339
// in UTC, written YYYY-MM-DDTHH:MM:SS[.s+]Z with an upper-case T and Z and
// no numeric offset. Any number of fractional digits is accepted, as the
// spec allows; precision rules for created and modified are for Validate.
func ParseTimestamp(s string) (time.Time, error) {
	t, _, ok := parseTS([]byte(s))
	if !ok {
		return time.Time{}, fmt.Errorf("%w: %q (want YYYY-MM-DDTHH:MM:SS[.sss]Z)", ErrTimestamp, s)
	}
	return t, nil
}

// FormatTimestamp writes t in UTC with exactly millisecond precision, the
// form STIX 2.1 §3.2 requires for created and modified.
func FormatTimestamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// parseTS is the allocation-free parser behind ParseTimestamp; frac is the
// number of fractional-second digits written.
func parseTS(b []byte) (t time.Time, frac int, ok bool) {
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
	// Seconds may be 60: RFC 3339 (§5.6 time-second) allows a leap
	// second, and so does the OASIS timestamp schema.
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

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
