package stix

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// allSpecs is every spec of the catalogue: object types, custom types,
// embedded types and predefined extensions.
func allSpecs() []*spec {
	seen := map[*spec]bool{}
	var out []*spec
	var walk func(s *spec)
	walk = func(s *spec) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		out = append(out, s)
		for _, p := range s.list {
			walk(p.sub)
		}
		for _, e := range s.extensions {
			walk(e)
		}
	}
	names := make([]string, 0, len(cat.types))
	for n := range cat.types {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		walk(cat.types[n])
	}
	for _, cl := range []objClass{classSDO, classSRO, classSCO, classEmbedded} {
		walk(cat.custom[cl])
	}
	walk(cat.granular)
	walk(cat.extInst)
	return out
}

// nameVariants are keys near the names: the names themselves, cut,
// extended, with one byte changed, and the names of other tables, which
// share lengths and bytes with them.
func nameVariants(r *rand.Rand, names []string) []string {
	out := []string{"", "a", "x_", "é", "type\x00"}
	for _, n := range names {
		out = append(out, n, n[:len(n)-1], n+"s", strings.ToUpper(n), "x_"+n)
		for range 3 {
			b := []byte(n)
			b[r.IntN(len(b))] = "abcdefghijklmnopqrstuvwxyz_-0"[r.IntN(29)]
			out = append(out, string(b))
		}
	}
	return out
}

// TestNameTablesMatchMaps holds every nameTable to the map it stands for:
// the properties of each spec, the values of each vocabulary, the types.
func TestNameTablesMatchMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	specs := allSpecs()
	var all []string
	for _, s := range specs {
		for _, p := range s.list {
			all = append(all, p.name)
		}
	}
	for n := range cat.types {
		all = append(all, n)
	}
	keys := nameVariants(r, all)
	for _, s := range specs {
		for _, k := range keys {
			want := s.props[k]
			if got := findProp(s, k); got != want {
				t.Fatalf("%s: findProp(%q) = %v, want %v", s.name, k, got, want)
			}
			if got := findProp(s, []byte(k)); got != want {
				t.Fatalf("%s: findProp([]byte %q) = %v, want %v", s.name, k, got, want)
			}
		}
	}
	for _, k := range keys {
		want := cat.types[k]
		if got, ok := lookupName(&cat.typeTable, []byte(k)); got != want || ok != (want != nil) {
			t.Fatalf("type table: %q = %v, want %v", k, got, want)
		}
	}
	vocabs := []*vocab{cat.voc.hashAlgorithm, cat.voc.relationshipType}
	for _, s := range specs {
		for _, p := range s.list {
			if p.voc != nil {
				vocabs = append(vocabs, p.voc)
			}
		}
	}
	for _, voc := range vocabs {
		var names []string
		for v := range voc.values {
			names = append(names, v)
		}
		for _, k := range append(nameVariants(r, names), keys...) {
			if _, want := voc.values[k]; voc.has([]byte(k)) != want {
				t.Fatalf("%s: has(%q) = %v, want %v", voc.name, k, !want, want)
			}
		}
	}
}

// TestIDFastPathPreconditions checks what the fast paths of selfID and
// ref assume: every type name they compare an identifier's prefix with is
// a valid type name, so that splitID would cut the identifier right after
// it.
func TestIDFastPathPreconditions(t *testing.T) {
	for name := range cat.types {
		if msg := typeNameProblem([]byte(name)); msg != "" {
			t.Errorf("type %q: %s", name, msg)
		}
	}
	for _, s := range allSpecs() {
		for _, p := range s.list {
			for _, typ := range p.refTypes {
				if msg := typeNameProblem([]byte(typ)); msg != "" {
					t.Errorf("%s.%s may reference %q: %s", s.name, p.name, typ, msg)
				}
			}
		}
	}
}

// refReference is validator.ref without its fast path: every identifier
// through splitID.
func refReference(v *validator, p *prop, val []byte) {
	if kindOf(val) != jString {
		v.errorf("%s must hold identifier strings, not %s", p.name, kindOf(val))
		return
	}
	id := strContent(val)
	typ, _, msg := splitID(id)
	if msg != "" {
		v.errorf("%s: %q %s (STIX 2.1 §2.9)", p.name, id, msg)
		return
	}
	ok := true
	switch p.refs {
	case refTypes:
		ok = false
		for _, a := range p.refTypes {
			if a == string(typ) {
				ok = true
			}
		}
	case refSDO:
		ok = !v.cat.scos[string(typ)] && !v.cat.sros[string(typ)] && !v.cat.metas[string(typ)]
	case refSCO:
		ok = !v.cat.sdos[string(typ)] && !v.cat.sros[string(typ)] && !v.cat.metas[string(typ)]
	case refSDOorSCO:
		ok = !v.cat.sros[string(typ)] && !v.cat.metas[string(typ)]
	case refSCOorSRO:
		ok = !v.cat.sdos[string(typ)] && !v.cat.metas[string(typ)]
	}
	if ok {
		return
	}
	want := map[refClass]string{refSDO: "an SDO", refSCO: "an SCO", refSDOorSCO: "an SDO or SCO", refSCOorSRO: "an SCO or SRO"}[p.refs]
	if p.refs == refTypes {
		want = strings.Join(p.refTypes, " or ")
	}
	v.errorf("%s must reference %s, not %s", p.name, want, string(typ))
}

// randomID writes an identifier of one of the catalogue's types (or not),
// with a UUID that is sometimes wrong in one place.
func randomID(r *rand.Rand, types []string) string {
	typ := types[r.IntN(len(types))]
	switch r.IntN(8) {
	case 0:
		typ += "-"
	case 1:
		typ = typ[:r.IntN(len(typ))]
	case 2:
		typ = "x-" + typ
	}
	u := []byte("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
	for range r.IntN(3) {
		u[r.IntN(len(u))] = "0123456789abcdefABCDEFg-"[r.IntN(24)]
	}
	if r.IntN(10) == 0 {
		u = u[:r.IntN(len(u))]
	}
	sep := "--"
	if r.IntN(15) == 0 {
		sep = []string{"-", "---", "--x-"}[r.IntN(3)]
	}
	return typ + sep + string(u)
}

// TestRefMatchesReference holds ref, with its fast path for identifiers of
// the types a property may reference, to the reference on every
// identifier property of the catalogue.
func TestRefMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var types []string
	for n := range cat.types {
		types = append(types, n)
	}
	sort.Strings(types)
	var props []*prop
	for _, s := range allSpecs() {
		for _, p := range s.list {
			if p.kind == kID || p.kind == kIDList {
				props = append(props, p)
			}
		}
	}
	for range 50000 {
		p := props[r.IntN(len(props))]
		val, _ := json.Marshal(randomID(r, types))
		got, want := newValidator(Options{}), newValidator(Options{})
		got.ref(p, val)
		refReference(want, p, val)
		if g, w := got.release(), want.release(); !reflect.DeepEqual(g, w) {
			t.Fatalf("%s = %s: got %v, want %v", p.name, val, g, w)
		}
	}
}

// TestSelfIDMatchesSplitID holds selfID's fast path, for an id that starts
// with its object's type, to splitID: the same problem, the same version.
func TestSelfIDMatchesSplitID(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var types []string
	for n := range cat.types {
		types = append(types, n)
	}
	sort.Strings(types)
	for range 50000 {
		typ := types[r.IntN(len(types))]
		id := randomID(r, []string{typ})
		for _, strict := range []bool{false, true} {
			obj := fmt.Sprintf(`{"type":%q,"id":%q}`, typ, id)
			var want []string
			wtyp, _, msg := splitID([]byte(id))
			switch {
			case msg != "":
				want = append(want, fmt.Sprintf("id %q %s (STIX 2.1 §2.9)", id, msg))
			case string(wtyp) != typ:
				want = append(want, fmt.Sprintf("id %q must start with its type %q (STIX 2.1 §2.9)", id, typ))
			}
			var got []string
			for _, p := range Validate(Object{Raw: []byte(obj)}, Options{Strict: strict}) {
				if p.Path == "id" && p.Severity == Error {
					got = append(got, p.Message)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: got %q, want %q", obj, got, want)
			}
		}
	}
}

// TestOrderRulesMatchReference holds the order rules, which compare the
// instants timestamp remembers, to the time.Time comparisons of the
// reference parser, on pairs of nearby timestamps.
func TestOrderRulesMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	stamps := []string{"2016-12-31T23:59:59.999Z", "2016-12-31T23:59:60.000Z", "2017-01-01T00:00:00.000Z",
		"2017-01-01T00:00:00Z", "2017-01-01T00:00:00.0001Z", "2016-02-29T00:00:00.000Z", "2016-03-01T00:00:00.000Z",
		"2016-02-30T00:00:00.000Z", "2017-01-01T00:00:00.000000001Z", "2017-01-01T00:00Z"}
	for range 5000 {
		ts := func() string { return stamps[r.IntN(len(stamps))] }
		created, modified, from, until := ts(), ts(), ts(), ts()
		obj := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":%q,"modified":%q,"pattern":"[x:y = 'z']","pattern_type":"stix","valid_from":%q,"valid_until":%q}`,
			created, modified, from, until)
		var want []string
		if tu, _, ok1 := parseTSReference([]byte(until)); ok1 {
			if tf, _, ok2 := parseTSReference([]byte(from)); ok2 && !tu.After(tf) {
				want = append(want, "valid_until must be later than valid_from")
			}
		}
		if tm, _, ok1 := parseTSReference([]byte(modified)); ok1 {
			if tc, _, ok2 := parseTSReference([]byte(created)); ok2 && tm.Before(tc) {
				want = append(want, "modified must not be earlier than created")
			}
		}
		var got []string
		for _, p := range Validate(Object{Raw: []byte(obj)}, Options{}) {
			if strings.Contains(p.Message, "later than") || strings.Contains(p.Message, "earlier than") {
				got = append(got, p.Message)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: got %q, want %q", obj, got, want)
		}
	}
}

// walkChecked and walkValid list every member and element of a JSON
// value, recursively, with the checking iterators and with the ones for
// valid JSON; they must agree on every value scanValue accepts.
func walkChecked(b []byte, depth int, out *[]string) {
	switch kindOf(b) {
	case jObject:
		it := newObjIter(b, depth)
		for k, esc, v, ok := it.next(); ok; k, esc, v, ok = it.next() {
			*out = append(*out, fmt.Sprintf("%q %v %q", k, esc, v))
			walkChecked(v, depth+1, out)
		}
		*out = append(*out, fmt.Sprint("end ", it.err))
	case jArray:
		it := newArrIter(b, depth)
		for v, ok := it.next(); ok; v, ok = it.next() {
			*out = append(*out, fmt.Sprintf("%q", v))
			walkChecked(v, depth+1, out)
		}
		*out = append(*out, fmt.Sprint("end ", it.err))
	}
}

func walkValid(t *testing.T, b []byte, out *[]string) {
	switch kindOf(b) {
	case jObject:
		// The object followed by more bytes, as embeddedIn reads the
		// elements of a list: the iterator must stop at its brace.
		tail := append(bytes.Clone(b), `,{"a":"}"}]`...)
		it := newValidObjIter(tail)
		for k, esc, v, ok := it.next(); ok; k, esc, v, ok = it.next() {
			*out = append(*out, fmt.Sprintf("%q %v %q", k, esc, v))
			walkValid(t, v, out)
		}
		*out = append(*out, "end <nil>")
		if end := it.end(); end != len(b) {
			t.Fatalf("%s: end %d, want %d", b, end, len(b))
		}
	case jArray:
		it := newValidArrIter(b)
		for v, ok := it.next(); ok; v, ok = it.next() {
			*out = append(*out, fmt.Sprintf("%q", v))
			walkValid(t, v, out)
		}
		*out = append(*out, "end <nil>")
	}
	if end := skipValue(b, 0); end != len(b) {
		t.Fatalf("%s: skipValue %d, want %d", b, end, len(b))
	}
	if kindOf(b) == jString {
		end, esc := skipString(b, 0)
		wend, wesc, _ := scanString(b, 0)
		if end != wend || esc != wesc {
			t.Fatalf("%s: skipString %d %v, want %d %v", b, end, esc, wend, wesc)
		}
	}
}

// checkValidIterators compares the two kinds of iterator on data when
// scanValue accepts it whole.
func checkValidIterators(t *testing.T, data []byte) {
	data = bytes.TrimSpace(data)
	if end, err := scanValue(data, 0, 0); err != nil || end != len(data) {
		return
	}
	var want, got []string
	walkChecked(data, 0, &want)
	walkValid(t, data, &got)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %q\nwant %q", data, got, want)
	}
}

// TestValidIterators runs checkValidIterators on the corpus and on
// variations of it with white space, escapes and nesting.
func TestValidIterators(t *testing.T) {
	for _, raw := range benchMix() {
		checkValidIterators(t, raw)
	}
	for _, s := range []string{`{}`, `[]`, ` { } `, `[ [ ] , { } ]`, `{"a":{"b":[1,-2.5e3,true,false,null,"x\"}"]}}`,
		`{"\u0061\"":"\\","b" : [ "]" , "\\\"" ] }`, `"plain"`, `"esc\\aped"`, `12`, `[0]`, benchIndicator, typicalIndicator} {
		checkValidIterators(t, []byte(s))
	}
}

// FuzzValidIterators: on any JSON the scanner accepts, the iterators for
// valid JSON see what the checking ones see.
func FuzzValidIterators(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkValidIterators(t, data)
	})
}
