package pattern

// MatchJSON matches one pattern against observed data given as JSON, the
// way the reference matcher's match() does for one line of its command
// line tool: the pattern is parsed with the grammar of the STIX version,
// the observed data is read as that version's input form, and any error of
// the reference (its exit status 2) is returned as an error.
func MatchJSON(pattern string, data []byte, version string) (bool, error) {
	m, err := NewJSONMatcher(data, version)
	if err != nil {
		return false, err
	}
	return m.Match(pattern)
}

// JSONMatcher matches patterns against one observed-data document the way
// the reference command line tool (stix2-matcher -f FILE -s VERSION) does
// for each line of its patterns file.
type JSONMatcher struct {
	doc     any
	version string
	obs     []Observation
	obsErr  error
	loaded  bool
}

// NewJSONMatcher reads the observed data; like the reference, it fails
// only on malformed JSON here, and on malformed observed data when the
// first pattern is matched. Version is "2.1" or anything else for 2.0.
func NewJSONMatcher(data []byte, version string) (*JSONMatcher, error) {
	if version != Version21 {
		version = Version20
	}
	doc, err := decodePyJSON(data)
	if err != nil {
		return nil, err
	}
	return &JSONMatcher{doc: doc, version: version}, nil
}

// Match parses pattern with the version's grammar and matches it.
func (m *JSONMatcher) Match(pattern string) (bool, error) {
	p, err := ParseVersion(pattern, m.version)
	if err != nil {
		return false, err
	}
	if !m.loaded {
		m.obs, m.obsErr = observationsFrom(m.doc, m.version)
		m.loaded = true
	}
	if m.obsErr != nil {
		return false, m.obsErr
	}
	return p.Match(m.obs)
}
