package pattern

import (
	"unicode/utf8"
)

// tokKind is a token type of the STIX pattern grammar (STIXPattern.g4 as
// compiled into stix2-patterns). The values are the grammar's token type
// numbers in its STIX 2.1 form, so that sorting by kind gives the order in
// which ANTLR lists expected tokens in its error messages. tEOF stands for
// ANTLR's EOF (-1), which sorts first.
type tokKind uint8

const (
	tEOF tokKind = iota
	tIntNeg
	tIntPos
	tFloatNeg
	tFloatPos
	tHex
	tBinary
	tString
	tBool
	tTimestamp
	tAND
	tOR
	tNOT
	tFOLLOWEDBY
	tLIKE
	tMATCHES
	tISSUPERSET
	tISSUBSET
	tEXISTS
	tLAST
	tIN
	tSTART
	tSTOP
	tSECONDS
	tTRUE
	tFALSE
	tWITHIN
	tREPEATS
	tTIMES
	tIdent       // IdentifierWithoutHyphen
	tIdentHyphen // IdentifierWithHyphen
	tEQ
	tNEQ
	tLT
	tLE
	tGT
	tGE
	tQuote
	tColon
	tDot
	tComma
	tRParen
	tLParen
	tRBrack
	tLBrack
	tPlus
	tHyphen
	tMinus
	tPower
	tDivide
	tAsterisk
	tWS
	tComment
	tLineComment
	tInvalid
	numTokKinds
)

// tokNames are the names ANTLR prints for token types in the reference
// validator, which replaces the literal name "<INVALID>" by the symbolic
// name.
var tokNames = [numTokKinds]string{
	tEOF: "<EOF>", tIntNeg: "IntNegLiteral", tIntPos: "IntPosLiteral",
	tFloatNeg: "FloatNegLiteral", tFloatPos: "FloatPosLiteral", tHex: "HexLiteral",
	tBinary: "BinaryLiteral", tString: "StringLiteral", tBool: "BoolLiteral",
	tTimestamp: "TimestampLiteral", tAND: "'AND'", tOR: "'OR'", tNOT: "'NOT'",
	tFOLLOWEDBY: "'FOLLOWEDBY'", tLIKE: "'LIKE'", tMATCHES: "'MATCHES'",
	tISSUPERSET: "'ISSUPERSET'", tISSUBSET: "'ISSUBSET'", tEXISTS: "'EXISTS'",
	tLAST: "'LAST'", tIN: "'IN'", tSTART: "'START'", tSTOP: "'STOP'",
	tSECONDS: "'SECONDS'", tTRUE: "'true'", tFALSE: "'false'", tWITHIN: "'WITHIN'",
	tREPEATS: "'REPEATS'", tTIMES: "'TIMES'", tIdent: "IdentifierWithoutHyphen",
	tIdentHyphen: "IdentifierWithHyphen", tEQ: "EQ", tNEQ: "NEQ", tLT: "'<'",
	tLE: "'<='", tGT: "'>'", tGE: "'>='", tQuote: "'''", tColon: "':'", tDot: "'.'",
	tComma: "','", tRParen: "')'", tLParen: "'('", tRBrack: "']'", tLBrack: "'['",
	tPlus: "'+'", tHyphen: "HYPHEN", tMinus: "'-'", tPower: "'^'", tDivide: "'/'",
	tAsterisk: "'*'", tWS: "WS", tComment: "COMMENT", tLineComment: "LINE_COMMENT",
	tInvalid: "InvalidCharacter",
}

func (k tokKind) String() string {
	if k < numTokKinds {
		return tokNames[k]
	}
	return "<UNKNOWN>"
}

// token is one lexed token: its kind, its byte range in the source, and
// the position of its first character (ANTLR's line and column, the column
// counted in code points).
type token struct {
	kind       tokKind
	start, end int32
	line, col  int32
}

// Pos is a source position: Line is 1-based, Column is the 0-based offset in
// code points within the line (the convention of the reference validator,
// whose messages read "line 1:13").
type Pos struct {
	Line, Column int
}

func (p Pos) String() string { return itoa(int64(p.Line)) + ":" + itoa(int64(p.Column)) }

// lexer splits pattern text into tokens exactly as the ANTLR lexer of the
// reference tools does: the longest match wins, ties go to the rule listed
// first in the grammar, whitespace and comments are skipped, and any other
// character is an InvalidCharacter token. With v20 set it lexes the STIX
// 2.0 grammar, which has no EXISTS keyword.
type lexer struct {
	src       string
	i         int
	line, col int32
	v20       bool
}

func newLexer(src string, v20 bool) lexer { return lexer{src: src, line: 1, v20: v20} }

func isDigitB(c byte) bool { return c >= '0' && c <= '9' }
func isIdentStartB(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isIdentPartB(c byte) bool { return isIdentStartB(c) || isDigitB(c) }
func isHexDigitB(c byte) bool {
	return isDigitB(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
func isB64B(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigitB(c) || c == '+' || c == '/'
}

// isWSRune reports the grammar's WS characters.
func isWSRune(r rune) bool {
	switch r {
	case ' ', '\t', '\r', '\n', '\v', '\f', 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// at returns the byte at j, or 0 past the end (0 never continues a token).
func (l *lexer) at(j int) byte {
	if j < len(l.src) {
		return l.src[j]
	}
	return 0
}

// advanceTo moves to byte offset j, keeping line and column.
func (l *lexer) advanceTo(j int) {
	for l.i < j {
		c := l.src[l.i]
		switch {
		case c == '\n':
			l.line++
			l.col = 0
			l.i++
		case c < utf8.RuneSelf:
			l.col++
			l.i++
		default:
			_, n := utf8.DecodeRuneInString(l.src[l.i:])
			l.col++
			l.i += n
		}
	}
}

// next returns the next token, skipping whitespace and comments.
func (l *lexer) next() token {
	for l.i < len(l.src) {
		c := l.src[l.i]
		if c == ' ' || (c >= '\t' && c <= '\r') {
			if c == '\n' {
				l.line++
				l.col = 0
			} else {
				l.col++
			}
			l.i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(l.src[l.i:])
			if isWSRune(r) {
				l.col++
				l.i += n
				if r == 0x85 || r == 0x2028 || r == 0x2029 {
					// ANTLR counts lines on '\n' only.
				}
				continue
			}
			break
		}
		if c == '/' && l.at(l.i+1) == '*' {
			// COMMENT is '/*' .*? '*/'; unterminated it is not a comment.
			end := -1
			for k := l.i + 2; k+1 < len(l.src); k++ {
				if l.src[k] == '*' && l.src[k+1] == '/' {
					end = k + 2
					break
				}
			}
			if end > 0 {
				l.advanceTo(end)
				continue
			}
		}
		if c == '/' && l.at(l.i+1) == '/' {
			k := l.i + 2
			for k < len(l.src) && l.src[k] != '\r' && l.src[k] != '\n' {
				k++
			}
			l.advanceTo(k)
			continue
		}
		break
	}
	t := token{start: int32(l.i), line: l.line, col: l.col}
	if l.i >= len(l.src) {
		t.kind = tEOF
		t.end = t.start
		return t
	}
	kind, n := l.scan()
	t.kind = kind
	t.end = int32(l.i + n)
	if kind == tString || kind == tInvalid || kind == tComment {
		l.advanceTo(l.i + n) // may hold newlines or multi-byte characters
	} else {
		l.i += n
		l.col += int32(n)
	}
	return t
}

// unsignedInt returns the length of '0' | [1-9][0-9]* at j, or 0.
func (l *lexer) unsignedInt(j int) int {
	c := l.at(j)
	if c == '0' {
		return 1
	}
	if c >= '1' && c <= '9' {
		n := 1
		for isDigitB(l.at(j + n)) {
			n++
		}
		return n
	}
	return 0
}

// unsignedFloat returns the length of [0-9]* '.' [0-9]+ at j, or 0.
func (l *lexer) unsignedFloat(j int) int {
	n := 0
	for isDigitB(l.at(j + n)) {
		n++
	}
	if l.at(j+n) != '.' || !isDigitB(l.at(j+n+1)) {
		return 0
	}
	n += 2
	for isDigitB(l.at(j + n)) {
		n++
	}
	return n
}

// stringLen returns the length of a StringLiteral at j (which holds a
// quote), or 0: escapes are \' and \\ only.
func (l *lexer) stringLen(j int) int {
	for k := j + 1; k < len(l.src); k++ {
		switch l.src[k] {
		case '\'':
			return k + 1 - j
		case '\\':
			if n := l.at(k + 1); n != '\'' && n != '\\' {
				return 0
			}
			k++
		}
	}
	return 0
}

// hexLen returns the length of h'..' (pairs of hex digits) at j, or 0.
func (l *lexer) hexLen(j int) int {
	if l.at(j+1) != '\'' {
		return 0
	}
	k := j + 2
	for isHexDigitB(l.at(k)) && isHexDigitB(l.at(k+1)) {
		k += 2
	}
	if l.at(k) != '\'' {
		return 0
	}
	return k + 1 - j
}

// binaryLen returns the length of b'..' holding padded base64 of at least
// one group at j, or 0.
func (l *lexer) binaryLen(j int) int {
	if l.at(j+1) != '\'' {
		return 0
	}
	k := j + 2
	n := 0
	for isB64B(l.at(k + n)) {
		n++
	}
	switch {
	case n%4 == 0 && n > 0 && l.at(k+n) == '\'':
		return n + 3
	case n%4 == 3 && l.at(k+n) == '=' && l.at(k+n+1) == '\'':
		return n + 4
	case n%4 == 2 && l.at(k+n) == '=' && l.at(k+n+1) == '=' && l.at(k+n+2) == '\'':
		return n + 5
	}
	return 0
}

// timestampLen returns the length of t'YYYY-MM-DDTHH:MM:SS(.f+)?Z' at j
// with the grammar's range restrictions on each field, or 0.
func (l *lexer) timestampLen(j int) int {
	s := l.src
	if j+21 > len(s) || s[j+1] != '\'' {
		return 0
	}
	k := j + 2
	if !isDigitB(s[k]) || !isDigitB(s[k+1]) || !isDigitB(s[k+2]) || !isDigitB(s[k+3]) || s[k+4] != '-' {
		return 0
	}
	k += 5
	m1, m2 := s[k], s[k+1]
	if !((m1 == '0' && m2 >= '1' && m2 <= '9') || (m1 == '1' && m2 >= '0' && m2 <= '2')) || s[k+2] != '-' {
		return 0
	}
	k += 3
	d1, d2 := s[k], s[k+1]
	if !((d1 == '0' && d2 >= '1' && d2 <= '9') || ((d1 == '1' || d1 == '2') && isDigitB(d2)) || (d1 == '3' && (d2 == '0' || d2 == '1'))) || s[k+2] != 'T' {
		return 0
	}
	k += 3
	h1, h2 := s[k], s[k+1]
	if !(((h1 == '0' || h1 == '1') && isDigitB(h2)) || (h1 == '2' && h2 >= '0' && h2 <= '3')) || s[k+2] != ':' {
		return 0
	}
	k += 3
	if !(s[k] >= '0' && s[k] <= '5' && isDigitB(s[k+1])) || s[k+2] != ':' {
		return 0
	}
	k += 3
	s1, s2 := s[k], s[k+1]
	if !((s1 >= '0' && s1 <= '5' && isDigitB(s2)) || (s1 == '6' && s2 == '0')) {
		return 0
	}
	k += 2
	if l.at(k) == '.' {
		if !isDigitB(l.at(k + 1)) {
			return 0
		}
		k++
		for isDigitB(l.at(k)) {
			k++
		}
	}
	if l.at(k) != 'Z' || l.at(k+1) != '\'' {
		return 0
	}
	return k + 2 - j
}

// keyword returns the keyword token for an identifier, or tIdent.
func (l *lexer) keyword(w string) tokKind {
	switch len(w) {
	case 2:
		switch w {
		case "OR":
			return tOR
		case "IN":
			return tIN
		}
	case 3:
		switch w {
		case "AND":
			return tAND
		case "NOT":
			return tNOT
		}
	case 4:
		switch w {
		case "LIKE":
			return tLIKE
		case "LAST":
			return tLAST
		case "STOP":
			return tSTOP
		case "true":
			return tBool
		}
	case 5:
		switch w {
		case "START":
			return tSTART
		case "false":
			return tBool
		case "TIMES":
			return tTIMES
		}
	case 6:
		switch w {
		case "EXISTS":
			if !l.v20 {
				return tEXISTS
			}
		case "WITHIN":
			return tWITHIN
		}
	case 7:
		switch w {
		case "MATCHES":
			return tMATCHES
		case "SECONDS":
			return tSECONDS
		case "REPEATS":
			return tREPEATS
		}
	case 8:
		if w == "ISSUBSET" {
			return tISSUBSET
		}
	case 10:
		switch w {
		case "ISSUPERSET":
			return tISSUPERSET
		case "FOLLOWEDBY":
			return tFOLLOWEDBY
		}
	}
	return tIdent
}

// scan picks the longest match at the current position; ties go to the
// rule that comes first in the grammar.
func (l *lexer) scan() (tokKind, int) {
	j := l.i
	c := l.src[j]
	switch {
	case c == '-' || c == '+':
		kind, n := tHyphen, 1 // HYPHEN precedes MINUS in the grammar
		if c == '+' {
			kind = tPlus
		}
		intK, floatK := tIntNeg, tFloatNeg
		if c == '+' {
			intK, floatK = tIntPos, tFloatPos
		}
		if m := l.unsignedInt(j + 1); m > 0 && m+1 > n {
			kind, n = intK, m+1
		}
		if m := l.unsignedFloat(j + 1); m > 0 && m+1 > n {
			kind, n = floatK, m+1
		}
		return kind, n
	case isDigitB(c) || c == '.':
		kind, n := tDot, 1
		if c != '.' {
			kind, n = tIntPos, l.unsignedInt(j)
		}
		if m := l.unsignedFloat(j); m > n {
			kind, n = tFloatPos, m
		}
		return kind, n
	case c == '\'':
		if n := l.stringLen(j); n > 0 {
			return tString, n
		}
		return tQuote, 1
	case isIdentStartB(c):
		n1 := 1
		for j+n1 < len(l.src) && isIdentPartB(l.src[j+n1]) {
			n1++
		}
		n2 := n1
		for j+n2 < len(l.src) && (isIdentPartB(l.src[j+n2]) || l.src[j+n2] == '-') {
			n2++
		}
		kind, n := tIdent, n1
		if n2 > n1 {
			kind, n = tIdentHyphen, n2
		} else {
			kind = l.keyword(l.src[j : j+n1])
		}
		if l.at(j+1) == '\'' {
			var m int
			var k tokKind
			switch c {
			case 'h':
				m, k = l.hexLen(j), tHex
			case 'b':
				m, k = l.binaryLen(j), tBinary
			case 't':
				m, k = l.timestampLen(j), tTimestamp
			}
			if m > n {
				kind, n = k, m
			}
		}
		return kind, n
	}
	switch c {
	case '=':
		if l.at(j+1) == '=' {
			return tEQ, 2
		}
		return tEQ, 1
	case '!':
		if l.at(j+1) == '=' {
			return tNEQ, 2
		}
	case '<':
		switch l.at(j + 1) {
		case '=':
			return tLE, 2
		case '>':
			return tNEQ, 2
		}
		return tLT, 1
	case '>':
		if l.at(j+1) == '=' {
			return tGE, 2
		}
		return tGT, 1
	case ':':
		return tColon, 1
	case ',':
		return tComma, 1
	case ')':
		return tRParen, 1
	case '(':
		return tLParen, 1
	case ']':
		return tRBrack, 1
	case '[':
		return tLBrack, 1
	case '^':
		return tPower, 1
	case '/':
		return tDivide, 1
	case '*':
		return tAsterisk, 1
	}
	if c >= utf8.RuneSelf {
		_, n := utf8.DecodeRuneInString(l.src[j:])
		return tInvalid, n
	}
	return tInvalid, 1
}

// tokenize lexes the whole source, EOF token included.
func tokenize(src string, v20 bool) []token {
	l := newLexer(src, v20)
	var out []token
	for {
		t := l.next()
		out = append(out, t)
		if t.kind == tEOF {
			return out
		}
	}
}
