package federation

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/jointcell/jointcell/internal/taxii"
)

// TestMergeWaiting: pages already waiting are merged in order, up to
// mergePages, with the checkpoint of the last page that has one; a page
// alone stays alone, and a closed channel ends the merge.
func TestMergeWaiting(t *testing.T) {
	page := func(last string, objs ...string) *taxii.ObjectsPage {
		p := &taxii.ObjectsPage{DateAddedLast: last}
		for _, o := range objs {
			p.Objects = append(p.Objects, json.RawMessage(o))
		}
		return p
	}
	str := func(raws []json.RawMessage) []string {
		out := make([]string, len(raws))
		for i, r := range raws {
			out[i] = string(r)
		}
		return out
	}

	// Alone.
	ch := make(chan *taxii.ObjectsPage, mergePages)
	raws, last := mergeWaiting(page("t1", "a", "b"), ch)
	if !slices.Equal(str(raws), []string{"a", "b"}) || last != "t1" {
		t.Errorf("alone: %v %q", str(raws), last)
	}

	// More waiting than one write takes: the rest stays for the next.
	if mergePages != 4 {
		t.Fatal("the expectations below assume mergePages = 4")
	}
	first := page("t1", "a")
	for _, p := range []*taxii.ObjectsPage{page("t2", "b", "c"), page("", "d"), page("t4", "e"), page("t5", "f")} {
		ch <- p
	}
	raws, last = mergeWaiting(first, ch)
	want := []string{"a", "b", "c", "d", "e"}
	if !slices.Equal(str(raws), want) || last != "t4" {
		t.Errorf("merged: %v %q, want %v t4", str(raws), last, want)
	}
	if len(ch) != 1 {
		t.Errorf("%d pages left waiting, want 1", len(ch))
	}
	// The first page's slice is not written through by the merge.
	if len(first.Objects) != 1 {
		t.Errorf("the first page was changed: %d objects", len(first.Objects))
	}

	// Pages past mergeBytes are not merged: they wait for the next write.
	big := page("t6", string(make([]byte, mergeBytes)))
	ch <- page("t7", "g")
	raws, last = mergeWaiting(big, ch)
	if len(raws) != 1 || last != "t6" || len(ch) != 2 {
		t.Errorf("past mergeBytes: %d objects, %q, %d pages waiting; want 1, t6, 2", len(raws), last, len(ch))
	}
	<-ch

	// A closed channel ends the merge.
	<-ch
	close(ch)
	raws, last = mergeWaiting(page("t9", "z"), ch)
	if !slices.Equal(str(raws), []string{"z"}) || last != "t9" {
		t.Errorf("closed: %v %q", str(raws), last)
	}
}
