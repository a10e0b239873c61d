package pattern

import "fmt"

// tokKind is a token type of the STIX 2.1 pattern grammar (STIXPattern.g4,
// STIX 2.1 §9). The order of the kinds mirrors the order of the lexer rules
// in the grammar, because ANTLR breaks ties between equally long matches by
// rule order and this lexer reproduces that.
type tokKind int

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
	tMinus
	tPower
	tDivide
	tAsterisk
	tInvalid
)

var tokNames = [...]string{
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
	tPlus: "'+'", tMinus: "'-'", tPower: "'^'", tDivide: "'/'", tAsterisk: "'*'",
	tInvalid: "InvalidCharacter",
}

func (k tokKind) String() string {
	if int(k) < len(tokNames) {
		return tokNames[k]
	}
	return fmt.Sprintf("tok(%d)", int(k))
}

// keywords maps the grammar's keywords (case-sensitive in STIX 2.1) to
// their token kinds. "true" and "false" lex as BoolLiteral, which precedes
// the TRUE/FALSE rules in the grammar.
var keywords = map[string]tokKind{
	"AND": tAND, "OR": tOR, "NOT": tNOT, "FOLLOWEDBY": tFOLLOWEDBY, "LIKE": tLIKE,
	"MATCHES": tMATCHES, "ISSUPERSET": tISSUPERSET, "ISSUBSET": tISSUBSET,
	"EXISTS": tEXISTS, "LAST": tLAST, "IN": tIN, "START": tSTART, "STOP": tSTOP,
	"SECONDS": tSECONDS, "true": tBool, "false": tBool, "WITHIN": tWITHIN,
	"REPEATS": tREPEATS, "TIMES": tTIMES,
}

// token is one lexed token. Text is the exact source text; Off is the rune
// offset of its first character.
type token struct {
	kind tokKind
	text string
	pos  Pos
}

// Pos is a source position: Line is 1-based, Column is the 0-based offset in
// code points within the line (the convention of the reference validator,
// whose messages read "line 1:13").
type Pos struct {
	Line, Column int
}

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// lexer turns pattern text into tokens with ANTLR's longest-match rule.
type lexer struct {
	src  []rune
	i    int
	line int
	col  int
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }
func isIdentStart(r rune) bool {
	return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}
func isIdentPart(r rune) bool { return isIdentStart(r) || isDigit(r) }
func isHexDigit(r rune) bool {
	return isDigit(r) || (r >= 'a' && r <= 'f') || (r >= 'A' && r <= 'F')
}
func isB64(r rune) bool {
	return isIdentPart(r) && r != '_' || r == '+' || r == '/'
}

// isWS reports the grammar's WS rule characters.
func isWS(r rune) bool {
	switch r {
	case ' ', '\t', '\r', '\n', '\v', '\f', 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

func (l *lexer) at(j int) rune {
	if j < len(l.src) {
		return l.src[j]
	}
	return -1
}

// advance moves over n runes, keeping line and column.
func (l *lexer) advance(n int) {
	for k := 0; k < n; k++ {
		if l.src[l.i] == '\n' {
			l.line++
			l.col = 0
		} else {
			l.col++
		}
		l.i++
	}
}

// matchInt returns the length of '[+-]? (0 | [1-9][0-9]*)' at j (sign
// handled by the caller), or 0.
func (l *lexer) matchUnsignedInt(j int) int {
	if l.at(j) == '0' {
		return 1
	}
	if r := l.at(j); r >= '1' && r <= '9' {
		n := 1
		for isDigit(l.at(j + n)) {
			n++
		}
		return n
	}
	return 0
}

// matchUnsignedFloat returns the length of '[0-9]* . [0-9]+' at j, or 0.
func (l *lexer) matchUnsignedFloat(j int) int {
	n := 0
	for isDigit(l.at(j + n)) {
		n++
	}
	if l.at(j+n) != '.' || !isDigit(l.at(j+n+1)) {
		return 0
	}
	n += 2
	for isDigit(l.at(j + n)) {
		n++
	}
	return n
}

// matchString returns the length of a StringLiteral at j, or 0.
func (l *lexer) matchString(j int) int {
	if l.at(j) != '\'' {
		return 0
	}
	k := j + 1
	for {
		switch r := l.at(k); r {
		case -1:
			return 0
		case '\'':
			return k + 1 - j
		case '\\':
			if n := l.at(k + 1); n == '\'' || n == '\\' {
				k += 2
				continue
			}
			return 0
		default:
			k++
		}
	}
}

// matchHex returns the length of h'..' (pairs of hex digits) at j, or 0.
func (l *lexer) matchHex(j int) int {
	if l.at(j) != 'h' || l.at(j+1) != '\'' {
		return 0
	}
	k := j + 2
	for isHexDigit(l.at(k)) && isHexDigit(l.at(k+1)) {
		k += 2
	}
	if l.at(k) != '\'' {
		return 0
	}
	return k + 1 - j
}

// matchBinary returns the length of b'..' with padded base64 at j, or 0.
// The grammar requires at least one 4-character group, so b” is not a
// BinaryLiteral.
func (l *lexer) matchBinary(j int) int {
	if l.at(j) != 'b' || l.at(j+1) != '\'' {
		return 0
	}
	k := j + 2
	n := 0
	for isB64(l.at(k + n)) {
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

// matchTimestamp returns the length of t'YYYY-MM-DDTHH:MM:SS(.f+)?Z' at j
// with the grammar's range restrictions on each field, or 0.
func (l *lexer) matchTimestamp(j int) int {
	if l.at(j) != 't' || l.at(j+1) != '\'' {
		return 0
	}
	k := j + 2
	d := func(n int) bool {
		for x := 0; x < n; x++ {
			if !isDigit(l.at(k + x)) {
				return false
			}
		}
		return true
	}
	if !d(4) || l.at(k+4) != '-' {
		return 0
	}
	k += 5
	m1, m2 := l.at(k), l.at(k+1)
	if !((m1 == '0' && m2 >= '1' && m2 <= '9') || (m1 == '1' && m2 >= '0' && m2 <= '2')) || l.at(k+2) != '-' {
		return 0
	}
	k += 3
	d1, d2 := l.at(k), l.at(k+1)
	if !((d1 == '0' && d2 >= '1' && d2 <= '9') || ((d1 == '1' || d1 == '2') && isDigit(d2)) || (d1 == '3' && (d2 == '0' || d2 == '1'))) || l.at(k+2) != 'T' {
		return 0
	}
	k += 3
	h1, h2 := l.at(k), l.at(k+1)
	if !(((h1 == '0' || h1 == '1') && isDigit(h2)) || (h1 == '2' && h2 >= '0' && h2 <= '3')) || l.at(k+2) != ':' {
		return 0
	}
	k += 3
	if !(l.at(k) >= '0' && l.at(k) <= '5' && isDigit(l.at(k+1))) || l.at(k+2) != ':' {
		return 0
	}
	k += 3
	s1, s2 := l.at(k), l.at(k+1)
	if !((s1 >= '0' && s1 <= '5' && isDigit(s2)) || (s1 == '6' && s2 == '0')) {
		return 0
	}
	k += 2
	if l.at(k) == '.' {
		if !isDigit(l.at(k + 1)) {
			return 0
		}
		k++
		for isDigit(l.at(k)) {
			k++
		}
	}
	if l.at(k) != 'Z' || l.at(k+1) != '\'' {
		return 0
	}
	return k + 2 - j
}

// next returns the next token, skipping whitespace and comments.
func (l *lexer) next() token {
	for {
		r := l.at(l.i)
		if r == -1 {
			return token{kind: tEOF, text: "<EOF>", pos: Pos{l.line, l.col}}
		}
		if isWS(r) {
			l.advance(1)
			continue
		}
		if r == '/' && l.at(l.i+1) == '*' {
			// COMMENT is '/*' .*? '*/'; unterminated it is not a comment.
			end := -1
			for k := l.i + 2; k+1 < len(l.src); k++ {
				if l.src[k] == '*' && l.src[k+1] == '/' {
					end = k + 2
					break
				}
			}
			if end > 0 {
				l.advance(end - l.i)
				continue
			}
		}
		if r == '/' && l.at(l.i+1) == '/' {
			k := l.i + 2
			for k < len(l.src) && l.src[k] != '\r' && l.src[k] != '\n' {
				k++
			}
			l.advance(k - l.i)
			continue
		}
		break
	}
	kind, n := l.scan()
	t := token{kind: kind, text: string(l.src[l.i : l.i+n]), pos: Pos{l.line, l.col}}
	l.advance(n)
	return t
}

// scan picks the longest match at the current position; ties go to the
// rule that comes first in the grammar (the lower tokKind).
func (l *lexer) scan() (tokKind, int) {
	j := l.i
	r := l.at(j)
	best, bestN := tInvalid, 1
	try := func(k tokKind, n int) {
		if n > bestN || (n == bestN && n > 0 && k < best) {
			best, bestN = k, n
		}
	}
	switch {
	case r == '-':
		best, bestN = tMinus, 1
		if n := l.matchUnsignedInt(j + 1); n > 0 {
			try(tIntNeg, n+1)
		}
		if n := l.matchUnsignedFloat(j + 1); n > 0 {
			try(tFloatNeg, n+1)
		}
		return best, bestN
	case r == '+':
		best, bestN = tPlus, 1
		if n := l.matchUnsignedInt(j + 1); n > 0 {
			try(tIntPos, n+1)
		}
		if n := l.matchUnsignedFloat(j + 1); n > 0 {
			try(tFloatPos, n+1)
		}
		return best, bestN
	case isDigit(r) || r == '.':
		if r == '.' {
			best, bestN = tDot, 1
		} else {
			best, bestN = tIntPos, 0
		}
		if n := l.matchUnsignedInt(j); n > 0 {
			try(tIntPos, n)
		}
		if n := l.matchUnsignedFloat(j); n > 0 {
			try(tFloatPos, n)
		}
		return best, bestN
	case r == '\'':
		if n := l.matchString(j); n > 0 {
			return tString, n
		}
		return tQuote, 1
	case isIdentStart(r):
		n1 := 1
		for isIdentPart(l.at(j + n1)) {
			n1++
		}
		n2 := n1
		for isIdentPart(l.at(j+n2)) || l.at(j+n2) == '-' {
			n2++
		}
		best, bestN = tIdent, n1
		if kw, ok := keywords[string(l.src[j:j+n1])]; ok {
			best = kw
		}
		if n2 > n1 {
			best, bestN = tIdentHyphen, n2
		}
		switch r {
		case 'h':
			try(tHex, l.matchHex(j))
		case 'b':
			try(tBinary, l.matchBinary(j))
		case 't':
			try(tTimestamp, l.matchTimestamp(j))
		}
		return best, bestN
	}
	switch r {
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
	return tInvalid, 1
}
