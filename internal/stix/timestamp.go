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
// number of fractional-second digits written. time.Unix(...).UTC() is the
// very value time.Date(..., time.UTC) builds from the fields (the tests
// compare them).
func parseTS(b []byte) (t time.Time, frac int, ok bool) {
	sec, nsec, frac, ok := scanTS(b)
	if !ok {
		return time.Time{}, 0, false
	}
	return time.Unix(sec, int64(nsec)).UTC(), frac, true
}

// scanTS checks the syntax and ranges of a STIX timestamp and returns its
// instant, as seconds since 1970-01-01T00:00:00Z and nanoseconds, with the
// number of fractional-second digits. Validation needs no time.Time: it
// checks timestamps and compares a few pairs of them, and building the
// time.Time was a fifth of the cost of a timestamp. (Returning the fields
// as a struct was another fifth: a struct of more than four fields goes
// through memory.)
func scanTS(b []byte) (sec int64, nsec, frac int, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return 0, 0, 0, false
	}
	year, ok1 := num2(b[0], b[1])
	year2, ok2 := num2(b[2], b[3])
	month, ok3 := num2(b[5], b[6])
	day, ok4 := num2(b[8], b[9])
	hour, ok5 := num2(b[11], b[12])
	minute, ok6 := num2(b[14], b[15])
	second, ok7 := num2(b[17], b[18])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, 0, 0, false
	}
	year = year*100 + year2
	// Seconds may be 60: RFC 3339 (§5.6 time-second) allows a leap
	// second, and so does the OASIS timestamp schema. As in time.Date, it
	// is the first second of the next minute.
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 60 {
		return 0, 0, 0, false
	}
	rest := b[19 : len(b)-1]
	if len(rest) > 0 {
		if rest[0] != '.' || len(rest) == 1 {
			return 0, 0, 0, false
		}
		digits := rest[1:]
		for i, c := range digits {
			if c < '0' || c > '9' {
				return 0, 0, 0, false
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
	sec = daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+second)
	return sec, nsec, frac, true
}

// daysFromCivil is the number of days from 1970-01-01 to a date of the
// proleptic Gregorian calendar with year 0 to 9999 (the algorithm of
// Howard Hinnant's days_from_civil). The year is counted from -400, one
// 400-year era earlier, so that every quantity is positive and the
// divisions are unsigned ones by constants, which compile to multiplies.
func daysFromCivil(year, month, day int) int64 {
	y, m := uint64(year+400), uint64(month)
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + uint64(day) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468 - 146097
}

// num2 is the number written by two decimal digits.
func num2(c1, c2 byte) (int, bool) {
	d1, d2 := c1-'0', c2-'0'
	return int(d1)*10 + int(d2), d1 <= 9 && d2 <= 9
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
