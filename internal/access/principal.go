// Package access decides who sees what: principals, collection rights, the
// audience of each object version from its markings, write rules, and the
// one decision used by every read path.
package access

// Role is what a user may do in the cell.
type Role string

// Roles, from most to least powerful.
const (
	RoleAdmin   Role = "admin"   // manages the cell and sees everything
	RoleAnalyst Role = "analyst" // reads and writes where the organisation may
	RoleReader  Role = "reader"  // reads where the organisation may
)

// Principal is an authenticated caller.
type Principal struct {
	UserID   string
	UserName string
	OrgName  string
	OrgID    string // the organisation's STIX identity id
	Role     Role
	Readers  []string // reader keys (see store.Reader*): org, groups, community, anyone
}

// IsAdmin reports whether the principal bypasses visibility rules.
func (p Principal) IsAdmin() bool { return p.Role == RoleAdmin }
