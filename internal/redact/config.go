package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Profile names that need no definition in a Config.
const (
	ProfileNone     = "none"     // no redaction
	ProfileStandard = "standard" // Standard()
)

// Config chooses the egress profile for a reader outside the producer's
// organisation (docs/privacy.md). The most specific entry wins: the peer
// (the organisation a reader belongs to, by name; a peer cell reads as an
// organisation of this cell), then the collection (by id or alias), then
// Default.
type Config struct {
	Default     string              `json:"default,omitempty"`
	Profiles    map[string]*Profile `json:"profiles,omitempty"`
	Collections map[string]string   `json:"collections,omitempty"`
	Peers       map[string]string   `json:"peers,omitempty"`

	std *Profile // Standard(), built once so that For does not allocate
}

// DefaultConfig applies the standard profile everywhere.
func DefaultConfig() *Config {
	return &Config{Default: ProfileStandard, std: Standard()}
}

// ParseConfig reads and checks a JSON configuration: unknown fields,
// references to undefined profiles and malformed rules are errors, so that
// a typo never silently turns redaction off.
func ParseConfig(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("redact: parse config: %w", err)
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	c.std = Standard()
	return &c, nil
}

// Check validates the configuration.
func (c *Config) Check() error {
	for name, p := range c.Profiles {
		if name == ProfileNone || name == ProfileStandard {
			return fmt.Errorf("redact: config: profile name %q is reserved", name)
		}
		if p == nil {
			return fmt.Errorf("redact: config: profile %q is null", name)
		}
		for _, rules := range [][]Rule{p.Pseudonymise, p.Drop} {
			for _, r := range rules {
				if r.Type == "" || r.Property == "" {
					return fmt.Errorf("redact: config: profile %q: a rule needs type and property", name)
				}
				if r.Property == "id" || r.Property == "type" {
					return fmt.Errorf("redact: config: profile %q: %s cannot be redacted (use pseudonymise_ids for ids)", name, r.Property)
				}
			}
		}
		for _, f := range p.Scrub {
			if f == "" || f == "*" || strings.Contains(strings.TrimSuffix(f, "*"), "*") {
				return fmt.Errorf("redact: config: profile %q: bad scrub field %q", name, f)
			}
		}
	}
	check := func(where, name string) error {
		if name == "" || name == ProfileNone || name == ProfileStandard {
			return nil
		}
		if _, ok := c.Profiles[name]; !ok {
			return fmt.Errorf("redact: config: %s names undefined profile %q", where, name)
		}
		return nil
	}
	if err := check("default", c.Default); err != nil {
		return err
	}
	for k, v := range c.Collections {
		if err := check("collection "+k, v); err != nil {
			return err
		}
	}
	for k, v := range c.Peers {
		if err := check("peer "+k, v); err != nil {
			return err
		}
	}
	return nil
}

// For returns the profile for a reader of organisation orgName reading
// collection (id, alias); nil means no redaction.
func (c *Config) For(collectionID, collectionAlias, orgName string) *Profile {
	if c == nil {
		return nil
	}
	name, ok := c.Peers[orgName]
	if !ok {
		name, ok = c.Collections[collectionID]
	}
	if !ok && collectionAlias != "" {
		name, ok = c.Collections[collectionAlias]
	}
	if !ok {
		name = c.Default
	}
	switch name {
	case "", ProfileNone:
		return nil
	case ProfileStandard:
		if c.std != nil {
			return c.std
		}
		return Standard()
	}
	return c.Profiles[name]
}
