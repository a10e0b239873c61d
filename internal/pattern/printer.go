package pattern

import "strings"

// String prints the pattern in a canonical form: single spaces between
// tokens, literals exactly as written. Parsing the result yields the same
// tree (positions aside), because parenthesised groups are nodes of the
// tree and precedence is otherwise implied by the structure.
func (p *Pattern) String() string {
	var b strings.Builder
	writeObs(&b, p.Root, ObsFollowedBy, false)
	return b.String()
}

func writeObs(b *strings.Builder, e ObsExpr, parent ObsOp, right bool) {
	switch e := e.(type) {
	case *ObsSimple:
		b.WriteByte('[')
		writeComp(b, e.Comparison, false, false)
		b.WriteByte(']')
	case *ObsGroup:
		b.WriteByte('(')
		writeObs(b, e.Inner, ObsFollowedBy, false)
		b.WriteByte(')')
	case *ObsBinary:
		// Trees built by the parser never need extra parentheses; trees
		// built by hand might, to keep operator precedence intact.
		wrap := e.Op < parent || (e.Op == parent && right)
		if wrap {
			b.WriteByte('(')
		}
		writeObs(b, e.Left, e.Op, false)
		b.WriteString(" " + e.Op.String() + " ")
		writeObs(b, e.Right, e.Op, true)
		if wrap {
			b.WriteByte(')')
		}
	case *ObsQualified:
		_, isBin := e.Inner.(*ObsBinary)
		if isBin {
			b.WriteByte('(')
		}
		writeObs(b, e.Inner, ObsFollowedBy, false)
		if isBin {
			b.WriteByte(')')
		}
		b.WriteByte(' ')
		b.WriteString(e.Qualifier.String())
	}
}

// String prints the qualifier as it appears in a pattern.
func (q Qualifier) String() string {
	switch q.Kind {
	case QualWithin:
		return "WITHIN " + q.Value.Text + " SECONDS"
	case QualRepeats:
		return "REPEATS " + q.Value.Text + " TIMES"
	default:
		return "START " + q.Start.Text + " STOP " + q.Stop.Text
	}
}

func writeComp(b *strings.Builder, e CompExpr, parentAnd, right bool) {
	switch e := e.(type) {
	case *CompGroup:
		b.WriteByte('(')
		writeComp(b, e.Inner, false, false)
		b.WriteByte(')')
	case *CompBinary:
		wrap := (parentAnd && !e.And) || (right && parentAnd == e.And)
		if wrap {
			b.WriteByte('(')
		}
		writeComp(b, e.Left, e.And, false)
		if e.And {
			b.WriteString(" AND ")
		} else {
			b.WriteString(" OR ")
		}
		writeComp(b, e.Right, e.And, true)
		if wrap {
			b.WriteByte(')')
		}
	case *Comparison:
		b.WriteString(e.String())
	}
}

// String prints one comparison.
func (c *Comparison) String() string {
	if c.Op == OpExists {
		if c.Negated {
			return "NOT EXISTS " + c.Path.String()
		}
		return "EXISTS " + c.Path.String()
	}
	var b strings.Builder
	b.WriteString(c.Path.String())
	if c.Negated {
		b.WriteString(" NOT")
	}
	op := c.OpText
	if op == "" {
		op = c.Op.String()
	}
	b.WriteString(" " + op + " ")
	if c.Op == OpIn {
		b.WriteByte('(')
		for i, l := range c.Set {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(l.Text)
		}
		b.WriteByte(')')
	} else {
		b.WriteString(c.Value.Text)
	}
	return b.String()
}

// String prints the object path, e.g. file:hashes.'SHA-256'.
func (op ObjectPath) String() string {
	var b strings.Builder
	b.WriteString(op.Type)
	b.WriteByte(':')
	for i, s := range op.Steps {
		switch s.Kind {
		case StepKey:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.keyText())
		case StepIndex:
			b.WriteString("[" + itoa(s.Index) + "]")
		case StepStar:
			b.WriteString("[*]")
		}
	}
	return b.String()
}

func (s Step) keyText() string {
	if !s.Quoted && isPlainKey(s.Key) {
		return s.Key
	}
	return QuoteString(s.Key)
}

func isPlainKey(k string) bool {
	if k == "" || !isIdentStartB(k[0]) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if !isIdentPartB(k[i]) {
			return false
		}
	}
	l := newLexer(k, false)
	return l.keyword(k) == tIdent
}

// QuoteString renders s as a pattern StringLiteral.
func QuoteString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s + "'"
}

func itoa(n int64) string {
	var buf [24]byte
	i := len(buf)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for {
		i--
		buf[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
