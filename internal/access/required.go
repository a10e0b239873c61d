package access

// protected lists the properties that granular markings can never take out
// of an object on the way to a reader: removing them would make the object
// invalid (they are required, STIX 2.1 §3 and the type sections) or would
// change its meaning rather than hide a detail (its markings, its creator,
// its revocation). A granular marking on one of them narrows the audience
// of the whole object instead (see Policy.Admit), so pages stay full.
var commonProtected = []string{
	"type", "spec_version", "id", "created", "modified", "created_by_ref",
	"revoked", "object_marking_refs", "granular_markings",
}

// requiredByType holds the type-specific required properties of STIX 2.1.
var requiredByType = map[string][]string{
	"attack-pattern":       {"name"},
	"campaign":             {"name"},
	"course-of-action":     {"name"},
	"grouping":             {"context", "object_refs"},
	"identity":             {"name"},
	"incident":             {"name"},
	"indicator":            {"pattern", "pattern_type", "valid_from"},
	"infrastructure":       {"name"},
	"intrusion-set":        {"name"},
	"malware":              {"is_family"},
	"malware-analysis":     {"product"},
	"note":                 {"content", "object_refs"},
	"observed-data":        {"first_observed", "last_observed", "number_observed"},
	"opinion":              {"opinion", "object_refs"},
	"report":               {"name", "published", "object_refs"},
	"threat-actor":         {"name"},
	"tool":                 {"name"},
	"vulnerability":        {"name"},
	"relationship":         {"relationship_type", "source_ref", "target_ref"},
	"sighting":             {"sighting_of_ref"},
	"marking-definition":   {"definition_type", "definition", "extensions", "name"},
	"language-content":     {"object_ref", "object_modified", "contents"},
	"extension-definition": {"name", "schema", "version", "extension_types"},
	"autonomous-system":    {"number"},
	"directory":            {"path"},
	"domain-name":          {"value"},
	"email-addr":           {"value"},
	"email-message":        {"is_multipart"},
	"ipv4-addr":            {"value"},
	"ipv6-addr":            {"value"},
	"mac-addr":             {"value"},
	"mutex":                {"name"},
	"network-traffic":      {"protocols"},
	"software":             {"name"},
	"url":                  {"value"},
}

// Protected reports whether a granular-marking selector of an object of
// type typ touches a property that must never be removed: its first step
// names a protected property.
func Protected(typ, selector string) bool {
	first := selector
	for i := 0; i < len(selector); i++ {
		if selector[i] == '.' {
			first = selector[:i]
			break
		}
	}
	for _, p := range commonProtected {
		if p == first {
			return true
		}
	}
	for _, p := range requiredByType[typ] {
		if p == first {
			return true
		}
	}
	return false
}
