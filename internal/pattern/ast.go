package pattern

import (
	"math/big"
	"time"
)

// Pattern is a parsed STIX pattern (STIX 2.1 §9). Root is the top
// observation expression; Source is the text it was parsed from.
type Pattern struct {
	Root   ObsExpr
	Source string

	v20   bool  // parsed with the STIX 2.0 grammar
	ncomp int32 // number of comparisons (Comparison.idx runs from 0)
}

// ObsExpr is an observation expression (STIX 2.1 §9.5): one of *ObsSimple,
// *ObsGroup, *ObsBinary or *ObsQualified.
type ObsExpr interface {
	Position() Pos
	obsExpr()
}

// ObsOp is an observation operator (STIX 2.1 §9.6).
type ObsOp int

// Observation operators, in increasing binding strength.
const (
	ObsFollowedBy ObsOp = iota
	ObsOr
	ObsAnd
)

func (o ObsOp) String() string {
	return [...]string{"FOLLOWEDBY", "OR", "AND"}[o]
}

// ObsSimple is "[ comparison ]": one observation.
type ObsSimple struct {
	Comparison CompExpr
	Pos        Pos
}

// ObsGroup is "( observation expression )". It is kept in the tree because
// the reference validator's qualifier rule treats a parenthesised group
// differently from a bracketed one.
type ObsGroup struct {
	Inner ObsExpr
	Pos   Pos
}

// ObsBinary joins two observation expressions with AND, OR or FOLLOWEDBY.
type ObsBinary struct {
	Op          ObsOp
	Left, Right ObsExpr
	Pos         Pos
}

// ObsQualified applies one qualifier to an observation expression.
type ObsQualified struct {
	Inner     ObsExpr
	Qualifier Qualifier
	Pos       Pos
}

// QualKind is the kind of an observation expression qualifier (STIX 2.1
// §9.7).
type QualKind int

// Qualifier kinds.
const (
	QualWithin QualKind = iota
	QualRepeats
	QualStartStop
)

// Qualifier is WITHIN n SECONDS, REPEATS n TIMES or START t STOP t.
// Value holds the number for WITHIN (an IntPos or FloatPos literal) and
// REPEATS (an IntPos literal); Start and Stop hold timestamp literals.
type Qualifier struct {
	Kind        QualKind
	Value       Literal
	Start, Stop Literal
	Pos         Pos
}

func (*ObsSimple) obsExpr()    {}
func (*ObsGroup) obsExpr()     {}
func (*ObsBinary) obsExpr()    {}
func (*ObsQualified) obsExpr() {}

// Position returns where the expression starts in the source.
func (e *ObsSimple) Position() Pos { return e.Pos }

// Position returns where the expression starts in the source.
func (e *ObsGroup) Position() Pos { return e.Pos }

// Position returns where the expression starts in the source.
func (e *ObsBinary) Position() Pos { return e.Pos }

// Position returns where the expression starts in the source.
func (e *ObsQualified) Position() Pos { return e.Pos }

// CompExpr is a comparison expression inside brackets (STIX 2.1 §9.4): one
// of *CompBinary, *CompGroup or *Comparison.
type CompExpr interface {
	Position() Pos
	compExpr()
}

// CompBinary joins two comparison expressions with AND (And true) or OR.
type CompBinary struct {
	And         bool
	Left, Right CompExpr
	Pos         Pos
}

// CompGroup is a parenthesised comparison expression.
type CompGroup struct {
	Inner CompExpr
	Pos   Pos
}

// CmpOp is a comparison operator (STIX 2.1 §9.4).
type CmpOp int

// Comparison operators.
const (
	OpEq CmpOp = iota
	OpNeq
	OpLT
	OpLE
	OpGT
	OpGE
	OpIn
	OpLike
	OpMatches
	OpIsSubset
	OpIsSuperset
	OpExists
)

var cmpOpNames = [...]string{"=", "!=", "<", "<=", ">", ">=", "IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET", "EXISTS"}

func (o CmpOp) String() string { return cmpOpNames[o] }

// Comparison is one property test: "path [NOT] op value", or
// "[NOT] EXISTS path" (STIX 2.1 grammar only).
// OpText keeps the operator spelling for =/==/!=/<> so printing round-trips
// exactly. Set holds the members for IN; Value the operand otherwise.
type Comparison struct {
	Path    ObjectPath
	Negated bool
	Op      CmpOp
	OpText  string
	Value   Literal
	Set     []Literal
	Pos     Pos

	idx int32 // position among the pattern's comparisons, in source order
}

func (*CompBinary) compExpr() {}
func (*CompGroup) compExpr()  {}
func (*Comparison) compExpr() {}

// Position returns where the expression starts in the source.
func (e *CompBinary) Position() Pos { return e.Pos }

// Position returns where the expression starts in the source.
func (e *CompGroup) Position() Pos { return e.Pos }

// Position returns where the expression starts in the source.
func (e *Comparison) Position() Pos { return e.Pos }

// ObjectPath is "type:property(.key|[n]|[*])*" (STIX 2.1 §9.3). The first
// step is always a key.
type ObjectPath struct {
	Type  string
	Steps []Step
}

// StepKind distinguishes the steps of an object path.
type StepKind int

// Step kinds.
const (
	StepKey StepKind = iota
	StepIndex
	StepStar
)

// Step is one object path component. Quoted records that a key was written
// as a string literal (required for keys with hyphens, e.g. 'SHA-256').
type Step struct {
	Kind   StepKind
	Key    string
	Quoted bool
	Index  int64
}

// LitKind is the type of a literal (STIX 2.1 §9.2).
type LitKind int

// Literal kinds.
const (
	LitInt LitKind = iota
	LitFloat
	LitString
	LitBool
	LitBinary
	LitHex
	LitTimestamp
)

var litKindNames = [...]string{"int", "float", "string", "bool", "binary", "hex", "timestamp"}

func (k LitKind) String() string { return litKindNames[k] }

// Literal is a constant with its exact source text. The decoded value is in
// the field matching Kind; Err records a literal that is syntactically valid
// but cannot be converted (an invalid calendar date such as
// t'2021-02-30T00:00:00Z'), which the reference matcher reports as an
// error at match time. Integers beyond 64 bits compare exactly, as Python
// integers do; Int then holds the clamped value.
type Literal struct {
	Kind  LitKind
	Text  string
	Int   int64
	Float float64
	Str   string
	Bool  bool
	Bytes []byte
	Time  time.Time
	Err   error

	big *big.Int // an integer beyond 64 bits (Int is then clamped)
}
