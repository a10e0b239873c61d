package storetest

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jointcell/jointcell/internal/stix"
	"github.com/jointcell/jointcell/internal/store"
)

// modelVersion is one stored version as the reference model sees it.
type modelVersion struct {
	obj      stix.Object
	spec     string
	version  int64 // microseconds: modified, else created, else date_added
	added    time.Time
	audience []string
}

// specOf is the spec version of an object without the property: STIX 2.1
// when it has no created timestamp (an SCO), 2.0 otherwise.
func specOf(o stix.Object) string {
	switch {
	case o.SpecVersion != "":
		return o.SpecVersion
	case o.Created == "" && o.Modified == "":
		return "2.1"
	default:
		return "2.0"
	}
}

// modelQuery answers a filter the slow, obvious way, following the order
// that store.Filter documents.
func modelQuery(all []modelVersion, f store.Filter) ([]modelVersion, bool) {
	var cand []modelVersion
	for _, v := range all {
		if f.Readers != nil && !slices.ContainsFunc(v.audience, func(k string) bool { return slices.Contains(f.Readers, k) }) {
			continue
		}
		if len(f.IDs) > 0 && !slices.Contains(f.IDs, v.obj.ID) {
			continue
		}
		if len(f.Types) > 0 && !slices.Contains(f.Types, v.obj.Type) {
			continue
		}
		cand = append(cand, v)
	}
	byObject := map[string][]modelVersion{}
	for _, v := range cand {
		byObject[v.obj.ID] = append(byObject[v.obj.ID], v)
	}
	rank := func(spec string) float64 { r, _ := strconv.ParseFloat(spec, 64); return r }
	var out []modelVersion
	for _, vs := range byObject {
		// Spec-version selection.
		var sel []modelVersion
		if len(f.SpecVersions) > 0 {
			for _, v := range vs {
				if slices.Contains(f.SpecVersions, v.spec) {
					sel = append(sel, v)
				}
			}
		} else {
			latest := slices.MaxFunc(vs, func(a, b modelVersion) int { return cmp.Compare(rank(a.spec), rank(b.spec)) })
			for _, v := range vs {
				if rank(v.spec) == rank(latest.spec) {
					sel = append(sel, v)
				}
			}
		}
		if len(sel) == 0 {
			continue
		}
		// Version selection.
		versions := f.Versions
		if len(versions) == 0 {
			versions = []string{"last"}
		}
		first := slices.MinFunc(sel, func(a, b modelVersion) int { return cmp.Compare(a.version, b.version) })
		last := slices.MaxFunc(sel, func(a, b modelVersion) int { return cmp.Compare(a.version, b.version) })
		for _, v := range sel {
			keep := false
			for _, want := range versions {
				switch want {
				case "all":
					keep = true
				case "first":
					keep = keep || v.version == first.version
				case "last":
					keep = keep || v.version == last.version
				default:
					t, err := time.Parse(time.RFC3339Nano, want)
					keep = keep || (err == nil && t.UnixMicro() == v.version)
				}
			}
			if keep && (f.AddedAfter.IsZero() || v.added.After(f.AddedAfter)) {
				out = append(out, v)
			}
		}
	}
	slices.SortFunc(out, func(a, b modelVersion) int { return a.added.Compare(b.added) })
	if len(out) > f.Limit {
		return out[:f.Limit], true
	}
	return out, false
}

// testAgainstModel stores a random collection (several versions and spec
// versions per object, SCOs, audiences) and compares every page of many
// random filters with the reference model.
func testAgainstModel(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(7, 11))
	coll := newCollection(t, s)
	readers := []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg("identity--a"), store.ReaderOrg("identity--b")}
	types := []string{"indicator", "malware", "tool"}
	var (
		pending []store.Version
		ids     []string
		stamps  []string
	)
	for i := range 60 {
		typ := types[i%len(types)]
		sco := i%7 == 0
		if sco {
			typ = "ipv4-addr"
		}
		id := newID(typ)
		ids = append(ids, id)
		n := 1 + rng.IntN(4)
		for j := range n {
			var o stix.Object
			switch {
			case sco:
				o = object(t, typ, id, []string{"", "2.1"}[rng.IntN(2)], "", "", fmt.Sprintf(`"value":"10.0.%d.%d"`, i, j))
			default:
				spec := []string{"", "2.1", "2.1"}[rng.IntN(3)]
				mod := ts(rng.IntN(8)) // few distinct values, so exact matches hit
				if slices.ContainsFunc(pending, func(v store.Version) bool {
					return v.Object.ID == id && v.Object.Modified == mod
				}) {
					continue
				}
				o = object(t, typ, id, spec, ts(0), mod, fmt.Sprintf(`"name":"%d-%d"`, i, j))
				stamps = append(stamps, mod)
			}
			var aud []string
			for _, r := range readers {
				if rng.IntN(3) == 0 {
					aud = append(aud, r)
				}
			}
			pending = append(pending, store.Version{Object: o, Audience: aud})
		}
	}
	rng.Shuffle(len(pending), func(i, j int) { pending[i], pending[j] = pending[j], pending[i] })
	var model []modelVersion
	for len(pending) > 0 {
		n := min(len(pending), 1+rng.IntN(25))
		dates := add(t, s, coll, pending[:n]...)
		for i, v := range pending[:n] {
			mv := modelVersion{obj: v.Object, spec: specOf(v.Object), added: dates[i], audience: v.Audience}
			if ver := v.Object.Version(); ver != "" {
				tm, _ := time.Parse(time.RFC3339Nano, ver)
				mv.version = tm.UnixMicro()
			} else {
				mv.version = dates[i].UnixMicro()
				stamps = append(stamps, dates[i].Format(store.TimestampFormat))
			}
			model = append(model, mv)
		}
		pending = pending[n:]
	}

	pick := func(from []string, max int) []string {
		var out []string
		for range rng.IntN(max + 1) {
			out = append(out, from[rng.IntN(len(from))])
		}
		return out
	}
	for i := range 300 {
		f := store.Filter{
			IDs:          pick(ids, 3),
			Types:        pick(append(types, "ipv4-addr"), 2),
			Versions:     pick(append([]string{"first", "last", "all", "last", "first"}, stamps...), 2),
			SpecVersions: pick([]string{"2.0", "2.1"}, 2),
			Limit:        1 + rng.IntN(15),
		}
		if rng.IntN(4) == 0 {
			f.IDs = nil // make most filters broad enough to page
		}
		if rng.IntN(2) == 0 {
			f.Readers = pick(readers, 3)
			if f.Readers == nil {
				f.Readers = []string{}
			}
		}
		if rng.IntN(3) == 0 {
			f.AddedAfter = model[rng.IntN(len(model))].added
		}
		// Page through, comparing each page with the model.
		for page := 0; ; page++ {
			got := query(t, s, coll, f)
			want, more := modelQuery(model, f)
			var wantKeys []string
			for _, v := range want {
				wantKeys = append(wantKeys, v.obj.ID+"@"+store.Version{Object: v.obj, DateAdded: v.added}.VersionString())
			}
			if gotKeys := keys(got.Versions); !slices.Equal(gotKeys, wantKeys) || got.More != more {
				t.Fatalf("filter %d page %d %+v:\n got %v more=%v\nwant %v more=%v", i, page, f,
					strings.Join(gotKeys, " "), got.More, strings.Join(wantKeys, " "), more)
			}
			if !more {
				break
			}
			f.AddedAfter = got.Versions[len(got.Versions)-1].DateAdded
		}
	}
}
