package access

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jointcell/jointcell/internal/marking"
	"github.com/jointcell/jointcell/internal/store"
)

// ErrGroup is returned (wrapped) for an invalid sharing-group operation.
var ErrGroup = errors.New("invalid sharing group")

// newUUID returns a random (version 4) UUID, RFC 9562 §5.4.
func newUUID() string {
	var u [16]byte
	if _, err := rand.Read(u[:]); err != nil {
		// crypto/rand.Read never fails on supported platforms (Go 1.24+
		// crashes the program instead), so this is unreachable.
		panic(err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// stixTime formats t as a STIX timestamp with millisecond precision (STIX
// 2.1 §3.2 requires at least that for created).
func stixTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// NewGroup creates a sharing group: a fresh marking-definition (random
// UUIDv4 id) carrying the group's name and members in jointcell's marking
// extension (docs/markings.md). Store it with store.Principals.PutGroup.
func NewGroup(name string, members []string, now time.Time) (store.Group, error) {
	id := "marking-definition--" + newUUID()
	def, err := marking.GroupDefinition(id, stixTime(now), name, members, 1)
	if err != nil {
		return store.Group{}, fmt.Errorf("access: new group: %w: %w", ErrGroup, err)
	}
	return groupOf(def)
}

// AddMembers returns g with the organisations (identity ids) added. The
// marking id and created timestamp never change, because objects reference
// the id and STIX marking definitions are never versioned (STIX 2.1
// §7.2.1); the definition's revision increases instead, and the updated
// definition is what the cell re-publishes to its peers.
func AddMembers(g store.Group, members []string) (store.Group, error) {
	return changeMembers(g, func(cur []string) []string { return append(cur, members...) })
}

// RemoveMembers returns g without the given organisations. Removing an
// organisation that is not a member is not an error.
func RemoveMembers(g store.Group, members []string) (store.Group, error) {
	return changeMembers(g, func(cur []string) []string {
		return slices.DeleteFunc(cur, func(m string) bool { return slices.Contains(members, m) })
	})
}

func changeMembers(g store.Group, edit func([]string) []string) (store.Group, error) {
	d, err := marking.ParseDefinition(g.Definition)
	if err != nil || d.Kind != marking.KindGroup || d.ID != g.MarkingID {
		return store.Group{}, fmt.Errorf("access: group %q: %w: stored definition is not its group marking", g.Name, ErrGroup)
	}
	var head struct {
		Created string `json:"created"`
	}
	if err := json.Unmarshal(g.Definition, &head); err != nil {
		return store.Group{}, fmt.Errorf("access: group %q: %w", g.Name, err)
	}
	members := edit(slices.Clone(d.Members))
	def, err := marking.GroupDefinition(d.ID, head.Created, d.Name, members, d.Revision+1)
	if err != nil {
		return store.Group{}, fmt.Errorf("access: group %q: %w: %w", g.Name, ErrGroup, err)
	}
	return groupOf(def)
}

func groupOf(def []byte) (store.Group, error) {
	d, err := marking.ParseDefinition(def)
	if err != nil {
		return store.Group{}, fmt.Errorf("access: group: %w", err)
	}
	return store.Group{Name: d.Name, MarkingID: d.ID, Members: d.Members, Definition: def}, nil
}

// NewRecipients builds a recipient marking-definition, created by the
// producer's identity, naming the organisations an object is meant for.
// The producer publishes it (before or with the objects that reference it)
// like any other object.
func NewRecipients(producer string, recipients []string, now time.Time) ([]byte, error) {
	def, err := marking.RecipientsDefinition("marking-definition--"+newUUID(), stixTime(now), producer, recipients)
	if err != nil {
		return nil, fmt.Errorf("access: new recipients: %w", err)
	}
	return def, nil
}
