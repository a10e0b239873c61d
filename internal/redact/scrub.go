package redact

import (
	"bytes"
	"regexp"
	"strings"
)

// emailRE finds e-mail addresses in text: a pragmatic subset of RFC 5322
// addr-spec (dot-atom local part, domain with a top-level label of letters).
var emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}`)

// phoneRE finds telephone-number candidates in the shapes people write:
// E.164-style international numbers (+CC, optionally with an area code in
// parentheses), national numbers with a parenthesised area code, national
// numbers with a trunk prefix 0 and spaces or hyphens, and the North
// American 3-3-4 form. Candidates are then checked in isPhone so that
// dates, addresses, versions, hashes and identifiers such as CVE numbers
// are left alone.
var phoneRE = regexp.MustCompile(`\+\d{1,3}(?:[ .\-]?\(?\d{1,5}\)?){2,6}` +
	`|\(\d{2,5}\)[ \-]?\d{2,4}(?:[ \-]?\d{2,4}){1,3}` +
	`|0\d{1,4}(?:[ \-]\d{2,8}){1,5}` +
	`|\d{3}-\d{3}-\d{4}|\d{3}\.\d{3}\.\d{4}|\d{3} \d{3} \d{4}`)

// isPhone decides whether text[i:j], matched by phoneRE, is a telephone
// number: 7 to 15 digits (E.164 allows at most 15; national forms with a
// trunk 0 need 9), and standing alone, not inside a longer token.
func isPhone(text string, i, j int) bool {
	m := text[i:j]
	digits := 0
	for _, c := range m {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	switch {
	case m[0] == '+':
		if digits < 8 || digits > 15 {
			return false
		}
	case m[0] == '0':
		if digits < 9 || digits > 15 {
			return false
		}
	default:
		if digits < 7 || digits > 15 {
			return false
		}
	}
	if i > 0 {
		p := text[i-1]
		if isWordByte(p) || strings.IndexByte(".-/_:+#@=\\", p) >= 0 {
			return false
		}
	}
	if j < len(text) {
		n := text[j]
		if isWordByte(n) {
			return false
		}
		if strings.IndexByte(".-/:", n) >= 0 && j+1 < len(text) && text[j+1] >= '0' && text[j+1] <= '9' {
			return false
		}
	}
	return true
}

func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// scrubText replaces e-mail addresses by their e-mail-shaped pseudonym and
// telephone numbers by a phone pseudonym, leaving every other character.
func (r *Redactor) scrubText(s string) string {
	if strings.IndexByte(s, '@') >= 0 {
		s = emailRE.ReplaceAllStringFunc(s, func(addr string) string {
			if strings.HasSuffix(strings.ToLower(addr), "@"+PseudonymDomain) {
				return addr
			}
			return r.email(addr)
		})
	}
	if !hasDigitRun(s, 2) {
		return s
	}
	locs := phoneRE.FindAllStringIndex(s, -1)
	if len(locs) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		if !isPhone(s, l[0], l[1]) {
			continue
		}
		b.WriteString(s[last:l[0]])
		b.WriteString(r.phone(s[l[0]:l[1]]))
		last = l[1]
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// hasDigitRun is a fast pre-check: every phone shape has a run of n digits.
func hasDigitRun(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// scrubMayChange reports whether scrubbing field (a property name, or a
// prefix ending in "*") could change raw, without decoding it: the scrub
// part of needed.
func scrubMayChange(raw []byte, field string) bool {
	return (&Redactor{}).needed(raw, "x-any", &Profile{Scrub: []string{field}})
}

// mayHavePII is the cheap test behind needed's scrub check: an "@" (an e-mail
// address) or seven digits in one run of characters phone numbers are
// written with.
func mayHavePII(s []byte) bool {
	if bytes.IndexByte(s, '@') >= 0 || bytes.IndexByte(s, '\\') >= 0 {
		// A backslash may escape anything, even "\u0040".
		return true
	}
	digits := 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			digits++
			if digits >= 7 {
				return true
			}
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+' || c == '/':
		default:
			digits = 0
		}
	}
	return false
}
