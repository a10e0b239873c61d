package pattern

import "strings"

// This file reproduces, for patterns that do not parse, the error messages
// of the reference validator: the ANTLR 4 Python runtime's
// DefaultErrorStrategy (single-token deletion and insertion, sync before
// decisions, recovery by consuming to the follow sets of the rule
// invocation stack, suppression of further reports until a token matches)
// running the parser generated from STIXPattern.g4. Each rule function
// below follows the generated code of its rule; the ATN states are named by
// the numbers of the generated parser, and every token set is the LL(1)
// set ANTLR computes at that state (with eps where the rule may end).
//
// The parser's own predictions (adaptivePredict) are reduced to what they
// compute for this grammar: the left-recursive loops continue exactly when
// the next token is their operator (and the precedence allows), optional
// parts are taken exactly when their first token is next, the property
// test alternatives are told apart by the operator after the object path,
// and the two set literal forms by the token after '('. A failing
// prediction raises NoViableAlt with the text from the decision's first
// token to the failing one.

// tokSet is a set of token kinds; bit 63 stands for epsilon.
type tokSet uint64

const eps tokSet = 1 << 63

func set(ks ...tokKind) tokSet {
	var s tokSet
	for _, k := range ks {
		s |= 1 << k
	}
	return s
}

func (s tokSet) has(k tokKind) bool { return s&(1<<k) != 0 }

// String renders the set as ANTLR's IntervalSet.toString does: elements in
// token type order, braces when there is more than one.
func (s tokSet) String() string {
	s &^= eps
	var names []string
	for k := tokKind(0); k < numTokKinds; k++ {
		if s.has(k) {
			names = append(names, k.String())
		}
	}
	switch len(names) {
	case 0:
		return "{}"
	case 1:
		return names[0]
	}
	return "{" + strings.Join(names, ", ") + "}"
}

var (
	setOrderable = set(tIntNeg, tIntPos, tFloatNeg, tFloatPos, tHex, tBinary, tString, tTimestamp)
	setPrimitive = setOrderable | set(tBool)
	setObsFirst  = set(tLBrack, tLParen)
	setQuals     = set(tSTART, tWITHIN, tREPEATS)
	setPathStep  = set(tDot, tLBrack)
	setKey       = set(tIdent, tString)
	setObjType   = set(tIdent, tIdentHyphen)
	setIndex     = set(tIntNeg, tIntPos, tAsterisk)
)

// ATN state kinds that matter to DefaultErrorStrategy.sync.
const (
	stBlockStart = iota
	stLoopEntry
	stLoopBack
)

type recogKind int

const (
	errMismatch recogKind = iota
	errNoViable
)

// recogErr is a RecognitionException; it unwinds to the rule function in
// which it was raised.
type recogErr struct {
	kind      recogKind
	off       int    // offending token index
	start     int    // NoViableAlt: first token of the decision
	expecting tokSet // InputMismatch: expected tokens at the raising state
}

type aParser struct {
	toks   []token
	src    string
	p      int // index of the current token
	state  int
	frames []tokSet // for each rule invocation: what follows it in the caller
	v20    bool

	errMode       bool
	lastErrIndex  int
	lastErrStates []int
	errs          []*SyntaxError

	// setLoop is the run-wide addition to the expected set of the set
	// literal's loop (see ValidationSession).
	setLoop *tokSet
}

// antlrErrors returns every syntax error the reference validator reports
// for s, in order; none means s parses.
func antlrErrors(s string, v20 bool) []*SyntaxError {
	return antlrErrorsIn(s, v20, nil)
}

// antlrErrorsIn is antlrErrors within a run whose set literal loop state
// is setLoop.
func antlrErrorsIn(s string, v20 bool, setLoop *tokSet) []*SyntaxError {
	if setLoop == nil {
		// A fresh process: the state still changes within the pattern.
		setLoop = new(tokSet)
	}
	p := &aParser{toks: tokenize(s, v20), src: s, v20: v20, lastErrIndex: -1, setLoop: setLoop}
	p.pattern()
	return p.errs
}

func (p *aParser) la(i int) tokKind {
	j := p.p + i - 1
	if j >= len(p.toks) {
		return tEOF
	}
	return p.toks[j].kind
}

func (p *aParser) consume() {
	if p.toks[p.p].kind != tEOF {
		p.p++
	}
}

func (p *aParser) endErrorCondition() {
	p.errMode = false
	p.lastErrStates = nil
	p.lastErrIndex = -1
}

func (p *aParser) tokText(i int) string {
	t := p.toks[i]
	if t.kind == tEOF {
		return "<EOF>"
	}
	return p.src[t.start:t.end]
}

func escapeWSAndQuote(s string) string {
	s = strings.ReplaceAll(s, "\n", `\n`)
	s = strings.ReplaceAll(s, "\r", `\r`)
	s = strings.ReplaceAll(s, "\t", `\t`)
	return "'" + s + "'"
}

func (p *aParser) notify(msg string, tok int) {
	t := p.toks[tok]
	p.errs = append(p.errs, &SyntaxError{Line: int(t.line), Column: int(t.col), Msg: msg})
}

// followOf extends a within-rule set through the rule invocation stack
// while it may end the rule (ATN.getExpectedTokens, and LL1Analyzer.LOOK
// with a context): at the start rule's end only EOF can follow.
func (p *aParser) followOf(s tokSet) tokSet {
	out := s &^ eps
	cur := s
	for i := len(p.frames) - 1; i >= 0 && cur&eps != 0; i-- {
		cur = p.frames[i]
		out |= cur &^ eps
	}
	if cur&eps != 0 {
		out |= 1 << tEOF
	}
	return out
}

func (p *aParser) recoverySet() tokSet {
	var s tokSet
	for _, f := range p.frames {
		s |= f
	}
	return s &^ eps
}

func (p *aParser) consumeUntil(s tokSet) {
	for k := p.la(1); k != tEOF && !s.has(k); k = p.la(1) {
		p.consume()
	}
}

func (p *aParser) reportUnwanted(expecting tokSet) {
	if p.errMode {
		return
	}
	p.errMode = true
	p.notify("extraneous input "+escapeWSAndQuote(p.tokText(p.p))+" expecting "+expecting.String(), p.p)
}

func (p *aParser) reportMissing(expecting tokSet) {
	if p.errMode {
		return
	}
	p.errMode = true
	p.notify("missing "+expecting.String()+" at "+escapeWSAndQuote(p.tokText(p.p)), p.p)
}

func (p *aParser) reportError(e *recogErr) {
	if p.errMode {
		return
	}
	p.errMode = true
	switch e.kind {
	case errNoViable:
		var input string
		if p.toks[e.start].kind == tEOF {
			input = "<EOF>"
		} else {
			var b strings.Builder
			for i := e.start; i <= e.off && p.toks[i].kind != tEOF; i++ {
				b.WriteString(p.tokText(i))
			}
			input = b.String()
		}
		p.notify("no viable alternative at input "+escapeWSAndQuote(input), e.off)
	default:
		p.notify("mismatched input "+escapeWSAndQuote(p.tokText(e.off))+" expecting "+e.expecting.String(), e.off)
	}
}

// recover is DefaultErrorStrategy.recover.
func (p *aParser) recover() {
	if p.lastErrIndex == p.p && p.lastErrStates != nil {
		for _, s := range p.lastErrStates {
			if s == p.state {
				p.consume()
				break
			}
		}
	}
	p.lastErrIndex = p.p
	p.lastErrStates = append(p.lastErrStates, p.state)
	p.consumeUntil(p.recoverySet())
}

// rule runs one rule function with the generated code's exception
// handling: a RecognitionException raised in it is reported and recovered
// from here, and the caller carries on.
func (p *aParser) rule(body func()) {
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(*recogErr)
			if !ok {
				panic(r)
			}
			p.reportError(e)
			p.recover()
		}
	}()
	body()
}

// call invokes a rule from state, with follow being what can come after
// the invocation within the calling rule.
func (p *aParser) call(state int, follow tokSet, fn func()) {
	p.state = state
	p.frames = append(p.frames, follow)
	fn()
	p.frames = p.frames[:len(p.frames)-1]
}

func (p *aParser) mismatch(expecting tokSet) *recogErr {
	return &recogErr{kind: errMismatch, off: p.p, expecting: p.followOf(expecting)}
}

func (p *aParser) noViable(start, off int) *recogErr {
	return &recogErr{kind: errNoViable, start: start, off: off}
}

// singleTokenDeletion reports and drops the current token when the one
// after it is expected.
func (p *aParser) singleTokenDeletion(expecting tokSet) bool {
	exp := p.followOf(expecting)
	if exp.has(p.la(2)) {
		p.reportUnwanted(exp)
		p.consume()
		p.endErrorCondition()
		return true
	}
	return false
}

// match matches one token of set at state; after is what can follow it
// within the rule (for single-token insertion).
func (p *aParser) match(state int, s, after tokSet) {
	p.state = state
	if s.has(p.la(1)) {
		p.endErrorCondition()
		p.consume()
		return
	}
	// recoverInline
	if p.singleTokenDeletion(s) {
		p.consume()
		return
	}
	if p.followOf(after).has(p.la(1)) {
		p.reportMissing(p.followOf(s))
		return
	}
	panic(p.mismatch(s))
}

// sync is DefaultErrorStrategy.sync at a decision state with the given
// within-rule set.
func (p *aParser) sync(state int, s tokSet, kind int) {
	p.state = state
	if p.errMode {
		return
	}
	la := p.la(1)
	if s.has(la) || s&eps != 0 {
		return
	}
	switch kind {
	case stBlockStart, stLoopEntry:
		if p.singleTokenDeletion(s) {
			return
		}
		panic(p.mismatch(s))
	case stLoopBack:
		exp := p.followOf(s)
		p.reportUnwanted(exp)
		rs := p.recoverySet()
		if state == setLoopState {
			// The runtime adds the recovery set to the expected set it
			// got from the ATN, which is the state's cached set: from now
			// on the state expects these tokens too.
			*p.setLoop |= rs
		}
		p.consumeUntil(exp | rs)
	}
}

// --- rules ------------------------------------------------------------

func (p *aParser) pattern() {
	p.rule(func() {
		p.call(36, set(tEOF), func() { p.obsExprs(0) })
		p.match(37, set(tEOF), eps)
	})
}

// lrLoop is the loop of a binary left-recursive rule: operand, then
// (op operand)* while the precedence allows.
func (p *aParser) lrLoop(prec int, primaryState, loopState, matchState, recState int, op tokKind, primaryFollow tokSet, primary func(), recurse func(int)) {
	p.rule(func() {
		p.call(primaryState, primaryFollow, primary)
		p.sync(loopState, set(op)|eps, stLoopEntry)
		for p.la(1) == op && 2 >= prec {
			p.state = loopState - 5
			p.match(matchState, set(op), eps) // the operand's first set is checked by the callee
			p.call(recState, set(op)|eps, func() { recurse(3) })
			p.sync(loopState+2, set(op)|eps, stLoopBack)
		}
	})
}

func (p *aParser) obsExprs(prec int) {
	p.lrLoop(prec, 40, 47, 43, 44, tFOLLOWEDBY, set(tFOLLOWEDBY)|eps,
		func() { p.obsOr(0) }, p.obsExprs)
}

func (p *aParser) obsOr(prec int) {
	p.lrLoop(prec, 51, 58, 54, 55, tOR, set(tOR)|eps,
		func() { p.obsAnd(0) }, p.obsOr)
}

func (p *aParser) obsAnd(prec int) {
	p.lrLoop(prec, 62, 69, 65, 66, tAND, set(tAND)|eps,
		func() { p.obsExpr() }, p.obsAnd)
}

func (p *aParser) obsExpr() {
	p.rule(func() {
		p.sync(81, setObsFirst, stBlockStart)
		switch p.la(1) {
		case tLBrack:
			p.match(73, set(tLBrack), p.propFirst())
			p.call(74, set(tRBrack), func() { p.compExpr(0) })
			p.match(75, set(tRBrack), setQuals|eps)
		case tLParen:
			p.match(77, set(tLParen), setObsFirst)
			p.call(78, set(tRParen), func() { p.obsExprs(0) })
			p.match(79, set(tRParen), setQuals|eps)
		default:
			panic(p.noViable(p.p, p.p))
		}
		p.sync(91, setQuals|eps, stLoopEntry)
		for setQuals.has(p.la(1)) {
			p.sync(89, setQuals, stBlockStart)
			switch p.la(1) {
			case tSTART:
				p.call(84, setQuals|eps, p.startStop)
			case tWITHIN:
				p.call(86, setQuals|eps, p.within)
			default:
				p.call(88, setQuals|eps, p.repeats)
			}
			p.sync(93, setQuals|eps, stLoopBack)
		}
	})
}

func (p *aParser) propFirst() tokSet {
	if p.v20 {
		return set(tIdent, tIdentHyphen, tLParen)
	}
	return set(tNOT, tEXISTS, tIdent, tIdentHyphen, tLParen)
}

func (p *aParser) compExpr(prec int) {
	p.lrLoop(prec, 95, 102, 98, 99, tOR, set(tOR)|eps,
		func() { p.compAnd(0) }, p.compExpr)
}

func (p *aParser) compAnd(prec int) {
	p.lrLoop(prec, 106, 113, 109, 110, tAND, set(tAND)|eps,
		func() { p.propTest() }, p.compAnd)
}

// predictPropTest is decision 15: the alternative of propTest.
func (p *aParser) predictPropTest() int {
	start := p.p
	i := start
	k := func() tokKind {
		if i < len(p.toks) {
			return p.toks[i].kind
		}
		return tEOF
	}
	switch k() {
	case tLParen:
		return 8
	case tNOT, tEXISTS:
		if !p.v20 {
			return 9
		}
	case tIdent, tIdentHyphen:
		i++
		if k() != tColon {
			panic(p.noViable(start, i))
		}
		i++
		if !setKey.has(k()) {
			panic(p.noViable(start, i))
		}
		i++
		for {
			if k() == tDot {
				i++
				if !setKey.has(k()) {
					panic(p.noViable(start, i))
				}
				i++
				continue
			}
			if k() == tLBrack {
				i++
				if !setIndex.has(k()) {
					panic(p.noViable(start, i))
				}
				i++
				if k() != tRBrack {
					panic(p.noViable(start, i))
				}
				i++
				continue
			}
			break
		}
		if k() == tNOT {
			i++
		}
		switch k() {
		case tEQ, tNEQ:
			return 1
		case tLT, tLE, tGT, tGE:
			return 2
		case tIN:
			return 3
		case tLIKE:
			return 4
		case tMATCHES:
			return 5
		case tISSUBSET:
			return 6
		case tISSUPERSET:
			return 7
		}
		panic(p.noViable(start, i))
	}
	panic(p.noViable(start, start))
}

func (p *aParser) propTest() {
	p.rule(func() {
		p.sync(171, p.propFirst(), stBlockStart)
		alt := p.predictPropTest()
		// Per alternative: object path call state, NOT? state, operator
		// set and what follows it.
		type altInfo struct {
			pathState, notSync, notState, opState int
			ops                                   tokSet
		}
		infos := [...]altInfo{
			1: {116, 118, 117, 120, set(tEQ, tNEQ)},
			2: {123, 125, 124, 127, set(tLT, tLE, tGT, tGE)},
			3: {130, 132, 131, 134, set(tIN)},
			4: {137, 139, 138, 141, set(tLIKE)},
			5: {144, 146, 145, 148, set(tMATCHES)},
			6: {151, 153, 152, 155, set(tISSUBSET)},
			7: {158, 160, 159, 162, set(tISSUPERSET)},
		}
		switch alt {
		case 8:
			p.match(165, set(tLParen), p.propFirst())
			p.call(166, set(tRParen), func() { p.compExpr(0) })
			p.match(167, set(tRParen), eps)
			return
		case 9:
			p.sync(1168, set(tNOT, tEXISTS), stBlockStart)
			if p.la(1) == tNOT {
				p.match(1169, set(tNOT), set(tEXISTS))
			}
			p.match(169, set(tEXISTS), setObjType)
			p.call(170, eps, p.objectPath)
			return
		}
		in := infos[alt]
		p.call(in.pathState, set(tNOT)|in.ops, p.objectPath)
		p.sync(in.notSync, set(tNOT)|in.ops, stBlockStart)
		if p.la(1) == tNOT {
			p.match(in.notState, set(tNOT), in.ops)
		}
		switch alt {
		case 1:
			p.match(in.opState, in.ops, setPrimitive)
			p.call(121, eps, p.primitiveLiteral)
		case 2:
			p.match(in.opState, in.ops, setOrderable)
			p.call(128, eps, p.orderableLiteral)
		case 3:
			p.match(in.opState, in.ops, set(tLParen))
			p.call(135, eps, p.setLiteral)
		default:
			p.match(in.opState, in.ops, set(tString))
			p.match(in.opState+1, set(tString), eps)
		}
	})
}

func (p *aParser) startStop() {
	p.rule(func() {
		p.match(173, set(tSTART), set(tTimestamp))
		p.match(174, set(tTimestamp), set(tSTOP))
		p.match(175, set(tSTOP), set(tTimestamp))
		p.match(176, set(tTimestamp), eps)
	})
}

func (p *aParser) within() {
	p.rule(func() {
		p.match(178, set(tWITHIN), set(tIntPos, tFloatPos))
		p.match(179, set(tIntPos, tFloatPos), set(tSECONDS))
		p.match(180, set(tSECONDS), eps)
	})
}

func (p *aParser) repeats() {
	p.rule(func() {
		p.match(182, set(tREPEATS), set(tIntPos))
		p.match(183, set(tIntPos), set(tTIMES))
		p.match(184, set(tTIMES), eps)
	})
}

func (p *aParser) objectPath() {
	p.rule(func() {
		p.call(186, set(tColon), func() {
			p.rule(func() { p.match(192, setObjType, eps) })
		})
		p.match(187, set(tColon), setKey)
		p.call(188, setPathStep|eps, func() {
			p.rule(func() { p.match(194, setKey, eps) })
		})
		p.sync(190, setPathStep|eps, stBlockStart)
		if setPathStep.has(p.la(1)) {
			p.call(189, eps, func() { p.objectPathComponent(0) })
		}
	})
}

func (p *aParser) objectPathComponent(prec int) {
	p.rule(func() {
		p.sync(202, setPathStep, stBlockStart)
		switch p.la(1) {
		case tDot:
			p.match(197, set(tDot), setKey)
			p.match(198, setKey, setPathStep|eps)
		case tLBrack:
			p.match(199, set(tLBrack), setIndex)
			p.match(200, setIndex, set(tRBrack))
			p.match(201, set(tRBrack), setPathStep|eps)
		default:
			panic(p.noViable(p.p, p.p))
		}
		p.sync(208, setPathStep|eps, stLoopEntry)
		for setPathStep.has(p.la(1)) && 3 >= prec {
			p.call(205, setPathStep|eps, func() { p.objectPathComponent(4) })
			p.sync(210, setPathStep|eps, stLoopBack)
		}
	})
}

// setLoopState is the loop back state of the set literal, the one state
// whose expected set the runtime's error recovery grows (see
// ValidationSession).
const setLoopState = 221

func (p *aParser) setLiteral() {
	p.rule(func() {
		p.sync(224, set(tLParen), stBlockStart)
		// Decision 20 looks at two tokens.
		start := p.p
		if p.la(1) != tLParen {
			panic(p.noViable(start, start))
		}
		switch {
		case p.la(2) == tRParen:
			p.match(211, set(tLParen), set(tRParen))
			p.match(212, set(tRParen), eps)
		case setPrimitive.has(p.la(2)):
			p.match(213, set(tLParen), setPrimitive)
			p.call(214, set(tComma, tRParen), p.primitiveLiteral)
			p.sync(219, set(tComma, tRParen), stLoopEntry)
			for p.la(1) == tComma {
				p.match(215, set(tComma), setPrimitive)
				p.call(216, set(tComma, tRParen), p.primitiveLiteral)
				p.sync(setLoopState, set(tComma, tRParen)|*p.setLoop, stLoopBack)
			}
			p.match(222, set(tRParen), eps)
		default:
			panic(p.noViable(start, start+1))
		}
	})
}

func (p *aParser) primitiveLiteral() {
	p.rule(func() {
		p.sync(228, setPrimitive, stBlockStart)
		switch k := p.la(1); {
		case setOrderable.has(k):
			p.call(226, eps, p.orderableLiteral)
		case k == tBool:
			p.match(227, set(tBool), eps)
		default:
			panic(p.noViable(p.p, p.p))
		}
	})
}

func (p *aParser) orderableLiteral() {
	p.rule(func() { p.match(230, setOrderable, eps) })
}
