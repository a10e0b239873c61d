package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Limits that keep parsing of untrusted input bounded: the reference
// grammar has no limits, but a detection engine compiling indicators from
// other organisations must not be made to recurse without bound.
const (
	MaxPatternLen = 1 << 20 // bytes
	MaxDepth      = 256     // nested parentheses and brackets
)

// SyntaxError is a pattern that does not parse. Line is 1-based and Column
// is the 0-based code point offset in the line, as in the reference
// validator's "line 1:13" messages.
type SyntaxError struct {
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d:%d: %s", e.Line, e.Column, e.Msg)
}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

type parseFail struct{ err *SyntaxError }

// Parse parses a STIX 2.1 pattern. It accepts exactly the language of the
// STIX 2.1 grammar (STIXPattern.g4 as used by the reference validator); it
// does not apply the validator's semantic checks (see Validate).
func Parse(s string) (p *Pattern, err error) {
	if len(s) > MaxPatternLen {
		return nil, &SyntaxError{Line: 1, Column: 0, Msg: fmt.Sprintf("pattern longer than %d bytes", MaxPatternLen)}
	}
	ps := &parser{lx: lexer{src: []rune(s), line: 1}}
	defer func() {
		if r := recover(); r != nil {
			pf, ok := r.(parseFail)
			if !ok {
				panic(r)
			}
			p, err = nil, pf.err
		}
	}()
	ps.advance()
	root := ps.obsExprs()
	if ps.tok.kind != tEOF {
		ps.failf("mismatched input %s expecting <EOF>", ps.quoted())
	}
	return &Pattern{Root: root, Source: s}, nil
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) quoted() string {
	if p.tok.kind == tEOF {
		return "'<EOF>'"
	}
	return "'" + p.tok.text + "'"
}

func (p *parser) failf(format string, a ...any) {
	panic(parseFail{&SyntaxError{Line: p.tok.pos.Line, Column: p.tok.pos.Column, Msg: fmt.Sprintf(format, a...)}})
}

func (p *parser) expect(kinds ...tokKind) token {
	for _, k := range kinds {
		if p.tok.kind == k {
			t := p.tok
			p.advance()
			return t
		}
	}
	p.failf("mismatched input %s expecting %s", p.quoted(), expecting(kinds))
	return token{}
}

func expecting(kinds []tokKind) string {
	if len(kinds) == 1 {
		return kinds[0].String()
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.String()
	}
	return "{" + strings.Join(names, ", ") + "}"
}

func (p *parser) enter() {
	p.depth++
	if p.depth > MaxDepth {
		p.failf("nesting deeper than %d", MaxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

// obsExprs parses FOLLOWEDBY chains, the loosest binding (STIX 2.1 §9.6).
func (p *parser) obsExprs() ObsExpr {
	left := p.obsOr()
	for p.tok.kind == tFOLLOWEDBY {
		p.advance()
		right := p.obsOr()
		left = &ObsBinary{Op: ObsFollowedBy, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func (p *parser) obsOr() ObsExpr {
	left := p.obsAnd()
	for p.tok.kind == tOR {
		p.advance()
		right := p.obsAnd()
		left = &ObsBinary{Op: ObsOr, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func (p *parser) obsAnd() ObsExpr {
	left := p.obsExpr()
	for p.tok.kind == tAND {
		p.advance()
		right := p.obsExpr()
		left = &ObsBinary{Op: ObsAnd, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func (p *parser) obsExpr() ObsExpr {
	p.enter()
	defer p.leave()
	var e ObsExpr
	start := p.tok.pos
	switch p.tok.kind {
	case tLBrack:
		p.advance()
		c := p.compOr()
		p.expect(tRBrack)
		e = &ObsSimple{Comparison: c, Pos: start}
	case tLParen:
		p.advance()
		inner := p.obsExprs()
		p.expect(tRParen)
		e = &ObsGroup{Inner: inner, Pos: start}
	default:
		p.failf("mismatched input %s expecting {'(', '['}", p.quoted())
	}
	for {
		q, ok := p.qualifier()
		if !ok {
			return e
		}
		e = &ObsQualified{Inner: e, Qualifier: q, Pos: start}
	}
}

func (p *parser) qualifier() (Qualifier, bool) {
	pos := p.tok.pos
	switch p.tok.kind {
	case tWITHIN:
		p.advance()
		t := p.expect(tIntPos, tFloatPos)
		p.expect(tSECONDS)
		return Qualifier{Kind: QualWithin, Value: makeLiteral(t), Pos: pos}, true
	case tREPEATS:
		p.advance()
		t := p.expect(tIntPos)
		p.expect(tTIMES)
		return Qualifier{Kind: QualRepeats, Value: makeLiteral(t), Pos: pos}, true
	case tSTART:
		p.advance()
		a := p.expect(tTimestamp)
		p.expect(tSTOP)
		b := p.expect(tTimestamp)
		return Qualifier{Kind: QualStartStop, Start: makeLiteral(a), Stop: makeLiteral(b), Pos: pos}, true
	}
	return Qualifier{}, false
}

func (p *parser) compOr() CompExpr {
	left := p.compAnd()
	for p.tok.kind == tOR {
		p.advance()
		right := p.compAnd()
		left = &CompBinary{And: false, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func (p *parser) compAnd() CompExpr {
	left := p.propTest()
	for p.tok.kind == tAND {
		p.advance()
		right := p.propTest()
		left = &CompBinary{And: true, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

var orderableKinds = []tokKind{tIntPos, tIntNeg, tFloatPos, tFloatNeg, tString, tBinary, tHex, tTimestamp}
var primitiveKinds = append(append([]tokKind{}, orderableKinds...), tBool)

func (p *parser) propTest() CompExpr {
	p.enter()
	defer p.leave()
	start := p.tok.pos
	switch p.tok.kind {
	case tLParen:
		p.advance()
		inner := p.compOr()
		p.expect(tRParen)
		return &CompGroup{Inner: inner, Pos: start}
	case tEXISTS:
		p.advance()
		path := p.objectPath()
		return &Comparison{Path: path, Op: OpExists, OpText: "EXISTS", Pos: start}
	case tIdent, tIdentHyphen:
	default:
		p.failf("mismatched input %s expecting {'EXISTS', '(', IdentifierWithoutHyphen, IdentifierWithHyphen}", p.quoted())
	}
	c := &Comparison{Path: p.objectPath(), Pos: start}
	if p.tok.kind == tNOT {
		c.Negated = true
		p.advance()
	}
	c.OpText = p.tok.text
	switch p.tok.kind {
	case tEQ, tNEQ:
		c.Op = OpEq
		if p.tok.kind == tNEQ {
			c.Op = OpNeq
		}
		p.advance()
		c.Value = makeLiteral(p.expect(primitiveKinds...))
	case tLT, tLE, tGT, tGE:
		c.Op = map[tokKind]CmpOp{tLT: OpLT, tLE: OpLE, tGT: OpGT, tGE: OpGE}[p.tok.kind]
		p.advance()
		c.Value = makeLiteral(p.expect(orderableKinds...))
	case tIN:
		c.Op = OpIn
		p.advance()
		p.expect(tLParen)
		c.Set = []Literal{}
		if p.tok.kind != tRParen {
			c.Set = append(c.Set, makeLiteral(p.expect(primitiveKinds...)))
			for p.tok.kind == tComma {
				p.advance()
				c.Set = append(c.Set, makeLiteral(p.expect(primitiveKinds...)))
			}
		}
		p.expect(tRParen)
	case tLIKE, tMATCHES, tISSUBSET, tISSUPERSET:
		c.Op = map[tokKind]CmpOp{tLIKE: OpLike, tMATCHES: OpMatches, tISSUBSET: OpIsSubset, tISSUPERSET: OpIsSuperset}[p.tok.kind]
		p.advance()
		c.Value = makeLiteral(p.expect(tString))
	default:
		p.failf("no viable alternative at input %s", p.quoted())
	}
	return c
}

func (p *parser) objectPath() ObjectPath {
	t := p.expect(tIdent, tIdentHyphen)
	p.expect(tColon)
	var path ObjectPath
	path.Type = t.text
	first := p.expect(tIdent, tString)
	path.Steps = append(path.Steps, keyStep(first))
	for {
		switch p.tok.kind {
		case tDot:
			p.advance()
			path.Steps = append(path.Steps, keyStep(p.expect(tIdent, tString)))
		case tLBrack:
			p.advance()
			it := p.expect(tIntPos, tIntNeg, tAsterisk)
			p.expect(tRBrack)
			if it.kind == tAsterisk {
				path.Steps = append(path.Steps, Step{Kind: StepStar})
			} else {
				n, err := strconv.ParseInt(it.text, 10, 64)
				if err != nil {
					// An index beyond 64 bits can never select a list
					// element; clamp it so it stays out of range.
					n = -1
				}
				path.Steps = append(path.Steps, Step{Kind: StepIndex, Index: n})
			}
		default:
			return path
		}
	}
}

func keyStep(t token) Step {
	if t.kind == tString {
		return Step{Kind: StepKey, Key: unquote(t.text), Quoted: true}
	}
	return Step{Kind: StepKey, Key: t.text}
}

// unquote decodes a StringLiteral: only \' and \\ are escapes (STIX 2.1
// §9.2).
func unquote(text string) string {
	s := text[1 : len(text)-1]
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var errIntRange = errors.New("integer literal out of 64-bit range")

// makeLiteral converts a literal token to its value.
func makeLiteral(t token) Literal {
	l := Literal{Text: t.text}
	switch t.kind {
	case tIntPos, tIntNeg:
		l.Kind = LitInt
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			l.Err = errIntRange
		}
		l.Int = n
	case tFloatPos, tFloatNeg:
		l.Kind = LitFloat
		l.Float, _ = strconv.ParseFloat(t.text, 64)
	case tString:
		l.Kind = LitString
		l.Str = unquote(t.text)
	case tBool:
		l.Kind = LitBool
		l.Bool = t.text == "true"
	case tBinary:
		l.Kind = LitBinary
		l.Bytes, l.Err = base64.StdEncoding.DecodeString(t.text[2 : len(t.text)-1])
	case tHex:
		l.Kind = LitHex
		l.Bytes, l.Err = hex.DecodeString(t.text[2 : len(t.text)-1])
		if l.Bytes == nil {
			l.Bytes = []byte{}
		}
	case tTimestamp:
		l.Kind = LitTimestamp
		l.Time, l.Err = parsePyTimestamp(t.text[2:len(t.text)-1], false)
	}
	return l
}
