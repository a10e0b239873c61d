package access

import (
	"slices"

	"github.com/jointcell/jointcell/internal/store"
)

// ReaderKeys returns the reader keys of a member of the organisation whose
// STIX identity is orgID: anyone, the community, the organisation itself and
// every sharing group that names it. Admins are not restricted and get nil
// from the authenticator instead.
func ReaderKeys(orgID string, groups []store.Group) []string {
	keys := []string{store.ReaderAnyone, store.ReaderCommunity, store.ReaderOrg(orgID)}
	for _, g := range groups {
		if slices.Contains(g.Members, orgID) {
			keys = append(keys, store.ReaderGroup(g.MarkingID))
		}
	}
	return keys
}
