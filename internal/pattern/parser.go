package pattern

import (
	"encoding/base64"
	"errors"
	"math/big"
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
// validator's "line 1:13" messages; Msg is the reference's (ANTLR's) message
// for the first error.
type SyntaxError struct {
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return "line " + itoa(int64(e.Line)) + ":" + itoa(int64(e.Column)) + ": " + e.Msg
}

// parser is the fast recursive-descent parser. It accepts exactly the
// language of the reference grammar; when the input is not in it, the
// messages come from the ANTLR emulation in antlr.go.
type parser struct {
	lx    lexer
	tok   token
	depth int
	bad   bool
	deep  bool
	v20   bool
	ncomp int32
}

// Parse parses a STIX 2.1 pattern. It accepts exactly the language of the
// STIX 2.1 grammar (STIXPattern.g4 as compiled into the reference tools);
// it does not apply the validator's semantic checks (see Validate).
func Parse(s string) (*Pattern, error) {
	return parseVersion(s, false)
}

// ParseVersion parses a pattern with the grammar of STIX version "2.1" or
// "2.0" (which has no EXISTS operator).
func ParseVersion(s, version string) (*Pattern, error) {
	return parseVersion(s, version == Version20)
}

func parseVersion(s string, v20 bool) (*Pattern, error) {
	if len(s) > MaxPatternLen {
		return nil, &SyntaxError{Line: 1, Column: 0, Msg: "pattern longer than " + itoa(MaxPatternLen) + " bytes"}
	}
	p := parser{lx: newLexer(s, v20), v20: v20}
	p.advance()
	root := p.obsExprs()
	if !p.bad && p.tok.kind != tEOF {
		p.bad = true
	}
	if p.bad {
		return nil, syntaxErrorOf(s, v20, p.deep)
	}
	pat := &Pattern{Root: root, Source: s, v20: v20, ncomp: p.ncomp}
	rememberParse(pat)
	return pat, nil
}

// syntaxErrorOf returns the first syntax error the reference reports.
func syntaxErrorOf(s string, v20, tooDeep bool) *SyntaxError {
	if tooDeep {
		return &SyntaxError{Line: 1, Column: 0, Msg: "nesting deeper than " + itoa(MaxDepth)}
	}
	errs := antlrErrors(s, v20)
	if len(errs) == 0 {
		// Not expected: the fast parser and the emulation accept the
		// same language.
		return &SyntaxError{Line: 1, Column: 0, Msg: "syntax error"}
	}
	return errs[0]
}

func (p *parser) advance() { p.tok = p.lx.next() }

func (p *parser) text(t token) string { return p.lx.src[t.start:t.end] }

func (p *parser) pos(t token) Pos { return Pos{Line: int(t.line), Column: int(t.col)} }

func (p *parser) expect(k tokKind) (token, bool) {
	if p.tok.kind != k {
		p.bad = true
		return token{}, false
	}
	t := p.tok
	p.advance()
	return t, true
}

// obsExprs parses FOLLOWEDBY chains, the loosest binding (STIX 2.1 §9.6).
func (p *parser) obsExprs() ObsExpr {
	left := p.obsOr()
	for !p.bad && p.tok.kind == tFOLLOWEDBY {
		p.advance()
		right := p.obsOr()
		left = &ObsBinary{Op: ObsFollowedBy, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func (p *parser) obsOr() ObsExpr {
	left := p.obsAnd()
	for !p.bad && p.tok.kind == tOR {
		p.advance()
		right := p.obsAnd()
		left = &ObsBinary{Op: ObsOr, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func (p *parser) obsAnd() ObsExpr {
	left := p.obsExpr()
	for !p.bad && p.tok.kind == tAND {
		p.advance()
		right := p.obsExpr()
		left = &ObsBinary{Op: ObsAnd, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

// simpleObs holds the nodes of the common one-comparison observation in
// one allocation.
type simpleObs struct {
	obs   ObsSimple
	cmp   Comparison
	steps [2]Step
}

func (p *parser) obsExpr() ObsExpr {
	if p.bad {
		return nil
	}
	p.depth++
	if p.depth > MaxDepth {
		p.bad, p.deep = true, true
		p.depth--
		return nil
	}
	defer func() { p.depth-- }()
	var e ObsExpr
	start := p.pos(p.tok)
	switch p.tok.kind {
	case tLBrack:
		p.advance()
		so := &simpleObs{}
		so.obs.Pos = start
		so.obs.Comparison = p.compOr(so)
		if _, ok := p.expect(tRBrack); !ok {
			return nil
		}
		e = &so.obs
	case tLParen:
		p.advance()
		inner := p.obsExprs()
		if _, ok := p.expect(tRParen); !ok {
			return nil
		}
		e = &ObsGroup{Inner: inner, Pos: start}
	default:
		p.bad = true
		return nil
	}
	for !p.bad {
		q, ok := p.qualifier()
		if !ok {
			break
		}
		e = &ObsQualified{Inner: e, Qualifier: q, Pos: start}
	}
	return e
}

func (p *parser) qualifier() (Qualifier, bool) {
	pos := p.pos(p.tok)
	switch p.tok.kind {
	case tWITHIN:
		p.advance()
		t := p.tok
		if t.kind != tIntPos && t.kind != tFloatPos {
			p.bad = true
			return Qualifier{}, false
		}
		p.advance()
		if _, ok := p.expect(tSECONDS); !ok {
			return Qualifier{}, false
		}
		return Qualifier{Kind: QualWithin, Value: p.literal(t), Pos: pos}, true
	case tREPEATS:
		p.advance()
		t, ok := p.expect(tIntPos)
		if !ok {
			return Qualifier{}, false
		}
		if _, ok := p.expect(tTIMES); !ok {
			return Qualifier{}, false
		}
		return Qualifier{Kind: QualRepeats, Value: p.literal(t), Pos: pos}, true
	case tSTART:
		p.advance()
		a, ok := p.expect(tTimestamp)
		if !ok {
			return Qualifier{}, false
		}
		if _, ok := p.expect(tSTOP); !ok {
			return Qualifier{}, false
		}
		b, ok := p.expect(tTimestamp)
		if !ok {
			return Qualifier{}, false
		}
		return Qualifier{Kind: QualStartStop, Start: p.literal(a), Stop: p.literal(b), Pos: pos}, true
	}
	return Qualifier{}, false
}

func (p *parser) compOr(so *simpleObs) CompExpr {
	left := p.compAnd(so)
	for !p.bad && p.tok.kind == tOR {
		p.advance()
		right := p.compAnd(nil)
		left = &CompBinary{And: false, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func (p *parser) compAnd(so *simpleObs) CompExpr {
	left := p.propTest(so)
	for !p.bad && p.tok.kind == tAND {
		p.advance()
		right := p.propTest(nil)
		left = &CompBinary{And: true, Left: left, Right: right, Pos: left.Position()}
	}
	return left
}

func isOrderable(k tokKind) bool { return k >= tIntNeg && k <= tTimestamp && k != tBool }
func isPrimitive(k tokKind) bool { return k >= tIntNeg && k <= tTimestamp }

func (p *parser) propTest(so *simpleObs) CompExpr {
	if p.bad {
		return nil
	}
	p.depth++
	if p.depth > MaxDepth {
		p.bad, p.deep = true, true
		p.depth--
		return nil
	}
	defer func() { p.depth-- }()
	start := p.pos(p.tok)
	var c *Comparison
	if so != nil {
		c = &so.cmp
		c.Path.Steps = so.steps[:0]
	} else {
		c = &Comparison{}
	}
	c.Pos = start
	switch p.tok.kind {
	case tLParen:
		p.advance()
		inner := p.compOr(nil)
		if _, ok := p.expect(tRParen); !ok {
			return nil
		}
		return &CompGroup{Inner: inner, Pos: start}
	case tNOT, tEXISTS:
		if p.tok.kind == tNOT {
			c.Negated = true
			p.advance()
		}
		if _, ok := p.expect(tEXISTS); !ok {
			return nil
		}
		p.objectPath(&c.Path)
		c.Op, c.OpText = OpExists, "EXISTS"
		c.idx = p.ncomp
		p.ncomp++
		return c
	case tIdent, tIdentHyphen:
	default:
		p.bad = true
		return nil
	}
	p.objectPath(&c.Path)
	if p.bad {
		return nil
	}
	if p.tok.kind == tNOT {
		c.Negated = true
		p.advance()
	}
	c.OpText = p.text(p.tok)
	switch k := p.tok.kind; k {
	case tEQ, tNEQ:
		c.Op = OpEq
		if k == tNEQ {
			c.Op = OpNeq
		}
		p.advance()
		if !isPrimitive(p.tok.kind) {
			p.bad = true
			return nil
		}
		c.Value = p.literal(p.tok)
		p.advance()
	case tLT, tLE, tGT, tGE:
		c.Op = [...]CmpOp{tLT: OpLT, tLE: OpLE, tGT: OpGT, tGE: OpGE}[k]
		p.advance()
		if !isOrderable(p.tok.kind) {
			p.bad = true
			return nil
		}
		c.Value = p.literal(p.tok)
		p.advance()
	case tIN:
		c.Op = OpIn
		p.advance()
		if _, ok := p.expect(tLParen); !ok {
			return nil
		}
		c.Set = []Literal{}
		if p.tok.kind != tRParen {
			for {
				if !isPrimitive(p.tok.kind) {
					p.bad = true
					return nil
				}
				c.Set = append(c.Set, p.literal(p.tok))
				p.advance()
				if p.tok.kind != tComma {
					break
				}
				p.advance()
			}
		}
		if _, ok := p.expect(tRParen); !ok {
			return nil
		}
	case tLIKE, tMATCHES, tISSUBSET, tISSUPERSET:
		c.Op = [...]CmpOp{tLIKE: OpLike, tMATCHES: OpMatches, tISSUBSET: OpIsSubset, tISSUPERSET: OpIsSuperset}[k]
		p.advance()
		t, ok := p.expect(tString)
		if !ok {
			return nil
		}
		c.Value = p.literal(t)
	default:
		p.bad = true
		return nil
	}
	c.idx = p.ncomp
	p.ncomp++
	return c
}

func (p *parser) objectPath(path *ObjectPath) {
	if k := p.tok.kind; k != tIdent && k != tIdentHyphen {
		p.bad = true
		return
	}
	path.Type = p.text(p.tok)
	p.advance()
	if _, ok := p.expect(tColon); !ok {
		return
	}
	if k := p.tok.kind; k != tIdent && k != tString {
		p.bad = true
		return
	}
	path.Steps = append(path.Steps, p.keyStep(p.tok))
	p.advance()
	for {
		switch p.tok.kind {
		case tDot:
			p.advance()
			if k := p.tok.kind; k != tIdent && k != tString {
				p.bad = true
				return
			}
			path.Steps = append(path.Steps, p.keyStep(p.tok))
			p.advance()
		case tLBrack:
			p.advance()
			it := p.tok
			switch it.kind {
			case tAsterisk:
				path.Steps = append(path.Steps, Step{Kind: StepStar})
			case tIntPos, tIntNeg:
				n, err := strconv.ParseInt(p.text(it), 10, 64)
				if err != nil {
					// An index beyond 64 bits can never select a list
					// element; clamp it so it stays out of range.
					n = -1 << 63
					if it.kind == tIntPos {
						n = 1<<63 - 1
					}
				}
				path.Steps = append(path.Steps, Step{Kind: StepIndex, Index: n})
			default:
				p.bad = true
				return
			}
			p.advance()
			if _, ok := p.expect(tRBrack); !ok {
				return
			}
		default:
			return
		}
	}
}

func (p *parser) keyStep(t token) Step {
	if t.kind == tString {
		return Step{Kind: StepKey, Key: unquote(p.text(t)), Quoted: true}
	}
	return Step{Kind: StepKey, Key: p.text(t)}
}

// unquote decodes a StringLiteral: only \' and \\ are escapes (STIX 2.1
// §9.2).
func unquote(text string) string {
	s := text[1 : len(text)-1]
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

var (
	errBadBase64 = errors.New("invalid base64 literal")
	errBadHex    = errors.New("invalid hex literal")
)

func (p *parser) literal(t token) Literal { return makeLiteral(t.kind, p.text(t)) }

// makeLiteral converts a literal token to its value.
func makeLiteral(kind tokKind, text string) Literal {
	l := Literal{Text: text}
	switch kind {
	case tIntPos, tIntNeg:
		l.Kind = LitInt
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			l.big, _ = new(big.Int).SetString(text, 10)
		}
		l.Int = n
	case tFloatPos, tFloatNeg:
		l.Kind = LitFloat
		l.Float, _ = strconv.ParseFloat(text, 64)
	case tString:
		l.Kind = LitString
		l.Str = unquote(text)
	case tBool:
		l.Kind = LitBool
		l.Bool = text == "true"
	case tBinary:
		l.Kind = LitBinary
		var err error
		l.Bytes, err = base64.StdEncoding.DecodeString(text[2 : len(text)-1])
		if err != nil {
			// Python's standard_b64decode accepts non-zero padding bits.
			if b, perr := pyB64Decode(text[2 : len(text)-1]); perr == nil {
				l.Bytes = b
			} else {
				l.Err = errBadBase64
			}
		}
	case tHex:
		l.Kind = LitHex
		b, err := pyHexDecode(text[2 : len(text)-1])
		if err != nil {
			l.Err = errBadHex
		}
		l.Bytes = b
	case tTimestamp:
		l.Kind = LitTimestamp
		l.Time, l.Err = parsePyTimestamp(text[2:len(text)-1], false)
	}
	return l
}
