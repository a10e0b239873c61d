package stix

import (
	"bytes"
	"net/netip"
	"net/url"
)

// The functions here are the cross-property rules of individual types,
// run after every property of the object has been checked on its own.

// at reports a problem on property name of the current object.
func (v *validator) at(name string, sev Severity, format string, args ...any) {
	v.push(name)
	if sev == Warning {
		v.warnf(format, args...)
	} else {
		v.errorf(format, args...)
	}
	v.pop()
}

func isTrue(b []byte) bool { return string(b) == "true" }

// STIX 2.1 §2.5: besides source_name, at least one of description, url or
// external_id; CVE and CAPEC references carry their identifiers.
func checkExternalReference(v *validator, s *objState) {
	if !s.has("description") && !s.has("url") && !s.has("external_id") {
		v.at("source_name", Error, "external reference %s needs at least one of description, url or external_id (STIX 2.1 §2.5)", s.get("source_name"))
	}
	name, ext := strContent(s.get("source_name")), strContent(s.get("external_id"))
	switch string(name) {
	case "cve":
		if !matchPrefixDigits(ext, "CVE-", true) {
			v.at("external_id", Error, "external_id must be CVE-YYYY-NNNN when source_name is cve (STIX 2.1 §2.5), not %q", ext)
		}
	case "capec":
		if !matchPrefixDigits(ext, "CAPEC-", false) {
			v.at("external_id", Error, "external_id must be CAPEC-N when source_name is capec (STIX 2.1 §2.5), not %q", ext)
		}
	}
}

// matchPrefixDigits matches PREFIX + digits, or with cve PREFIX + 4 digits
// + "-" + at least 4 digits.
func matchPrefixDigits(s []byte, prefix string, cve bool) bool {
	if !bytes.HasPrefix(s, []byte(prefix)) {
		return false
	}
	rest := s[len(prefix):]
	if cve {
		// CVE-YYYY-NNNN: the sequence number is 4 digits, or more without a
		// leading zero (the OASIS external-reference schema's pattern).
		if len(rest) < 9 || rest[4] != '-' || !allDigits(rest[:4]) || !allDigits(rest[5:]) {
			return false
		}
		return len(rest) == 9 || rest[5] != '0'
	}
	return len(rest) > 0 && allDigits(rest)
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// STIX 2.1 §2.8: kill chain and phase names SHOULD be lowercase, with
// hyphens between words.
func checkKillChainPhase(v *validator, s *objState) {
	if !v.opts.Strict {
		return
	}
	for _, n := range []string{"kill_chain_name", "phase_name"} {
		if val := strContent(s.get(n)); val != nil && !lowerHyphen(val) {
			v.at(n, Warning, "%s %q should be all lowercase with hyphens between words (STIX 2.1 §2.8)", n, val)
		}
	}
}

func lowerHyphen(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// STIX 2.1 §7.2.3: exactly one of marking_ref and lang, and every
// selector must resolve on the object the marking is in.
func checkGranularMarking(v *validator, s *objState) {
	if s.has("marking_ref") == s.has("lang") {
		v.at("marking_ref", Error, "granular marking needs exactly one of marking_ref or lang (STIX 2.1 §7.2.3)")
	}
	sel := s.get("selectors")
	if kindOf(sel) != jArray {
		return
	}
	it := newArrIter(sel, v.depth+1)
	for i, e, ok := 0, []byte(nil), true; ok; i++ {
		if e, ok = it.next(); !ok {
			break
		}
		if kindOf(e) != jString {
			continue
		}
		if !resolveSelector(v.root, strContent(e)) {
			v.push("selectors")
			v.pushIdx(i)
			v.errorf("selectors: %q does not resolve to a property of this object (STIX 2.1 §7.2.3.1)", strContent(e))
			v.pop()
			v.pop()
		}
	}
}

// resolveSelector follows a granular-marking selector such as
// "external_references.[0].url" through the raw object.
func resolveSelector(root, sel []byte) bool {
	if len(sel) == 0 {
		return false
	}
	cur := root
	for len(sel) > 0 {
		var part []byte
		if i := bytes.IndexByte(sel, '.'); i >= 0 {
			part, sel = sel[:i], sel[i+1:]
			if len(sel) == 0 {
				return false
			}
		} else {
			part, sel = sel, nil
		}
		if len(part) >= 3 && part[0] == '[' && part[len(part)-1] == ']' {
			n, ok := parseInt(part[1 : len(part)-1])
			if !ok || n < 0 || kindOf(cur) != jArray {
				return false
			}
			it := newArrIter(cur, 1)
			var found []byte
			for j := int64(0); ; j++ {
				e, ok := it.next()
				if !ok {
					break
				}
				if j == n {
					found = e
					break
				}
			}
			if found == nil {
				return false
			}
			cur = found
			continue
		}
		if kindOf(cur) != jObject {
			return false
		}
		it := newObjIter(cur, 1)
		var found []byte
		for k, esc, val, ok := it.next(); ok; k, esc, val, ok = it.next() {
			if bytes.Equal(keyContent(k, esc), part) {
				found = val
				break
			}
		}
		if found == nil {
			return false
		}
		cur = found
	}
	return true
}

// STIX 2.1 §4.9: a location needs region, country, or latitude and
// longitude; the coordinates come together and precision needs them.
func checkLocation(v *validator, s *objState) {
	lat, lon := s.has("latitude"), s.has("longitude")
	if lat != lon {
		v.at("latitude", Error, "latitude and longitude must both be present or both absent (STIX 2.1 §4.9)")
	}
	if s.has("precision") && !(lat && lon) {
		v.at("precision", Error, "precision requires latitude and longitude (STIX 2.1 §4.9)")
	}
	if !s.has("region") && !s.has("country") && !(lat && lon) {
		v.at("region", Error, "location needs region, country, or latitude and longitude (STIX 2.1 §4.9)")
	}
}

// STIX 2.1 §4.10: a malware family must have a name.
func checkMalware(v *validator, s *objState) {
	if isTrue(s.get("is_family")) && !s.has("name") {
		v.at("name", Error, "name is required when is_family is true (STIX 2.1 §4.10)")
	}
}

// STIX 2.1 §4.11: result or analysis_sco_refs must be present.
func checkMalwareAnalysis(v *validator, s *objState) {
	if !s.has("result") && !s.has("analysis_sco_refs") {
		v.at("result", Error, "malware-analysis needs result or analysis_sco_refs (STIX 2.1 §4.11)")
	}
}

// STIX 2.1 §4.13: exactly one of objects (deprecated) and object_refs.
func checkObservedData(v *validator, s *objState) {
	switch objs, refs := s.has("objects"), s.has("object_refs"); {
	case objs && refs:
		v.at("objects", Error, "objects and object_refs are mutually exclusive (STIX 2.1 §4.13)")
	case !objs && !refs:
		v.at("object_refs", Error, "object_refs is required on observed-data (STIX 2.1 §4.13)")
	case objs:
		v.at("objects", Warning, "objects is deprecated: use object_refs (STIX 2.1 §4.13)")
	}
}

// STIX 2.1 §5.1: relationship_type is lowercase ASCII letters, digits and
// hyphens, and SHOULD be one the specification defines.
func checkRelationship(v *validator, s *objState) {
	rt := strContent(s.get("relationship_type"))
	if rt == nil {
		return
	}
	if len(rt) == 0 || !lowerHyphen(rt) {
		v.at("relationship_type", Error, "relationship_type %q must use only a-z, 0-9 and hyphen (STIX 2.1 §5.1)", rt)
		return
	}
	if !v.cat.voc.relationshipType.has(rt) {
		v.at("relationship_type", Warning, "relationship_type %q is not one the specification defines", rt)
	}
}

// tlp1IDs maps the TLP 1.0 levels to the only ids allowed for them (STIX
// 2.1 §7.2.1.4: other TLP marking definitions MUST NOT be created).
var tlp1IDs = map[string]string{
	"white": TLP1White, "green": TLP1Green, "amber": TLP1Amber, "red": TLP1Red,
}

// STIX 2.1 §7.2.1: without an extension, definition_type and definition
// are required; tlp and statement definitions have fixed shapes.
func checkMarkingDefinition(v *validator, s *objState) {
	dt, def := s.get("definition_type"), s.get("definition")
	if !s.has("extensions") {
		if dt == nil {
			v.at("definition_type", Error, "definition_type is required on a marking-definition without extensions (STIX 2.1 §7.2.1)")
		}
		if def == nil {
			v.at("definition", Error, "definition is required on a marking-definition without extensions (STIX 2.1 §7.2.1)")
		}
	}
	if s.has("extensions") && (dt == nil) != (def == nil) {
		v.at("definition", Error, "definition and definition_type must be present together (STIX 2.1 §7.2.1)")
		return
	}
	if dt == nil || def == nil || kindOf(def) != jObject {
		return
	}
	switch string(strContent(dt)) {
	case "tlp":
		level := objString(def, "tlp")
		want, ok := tlp1IDs[string(level)]
		if !ok || !onlyKey(def, "tlp") {
			v.at("definition", Error, "definition of a tlp marking must be {\"tlp\": white|green|amber|red} (STIX 2.1 §7.2.1.4)")
			return
		}
		if id := strContent(s.get("id")); string(id) != want {
			v.at("id", Error, "a TLP:%s marking must be %s: other TLP marking definitions must not be created (STIX 2.1 §7.2.1.4)", bytes.ToUpper(level), want)
		}
	case "statement":
		if st := objString(def, "statement"); st == nil || !onlyKey(def, "statement") {
			v.at("definition", Error, "definition of a statement marking must be {\"statement\": string} (STIX 2.1 §7.2.1.3)")
		}
	}
}

// objString returns the content of a string member of obj, or nil.
func objString(obj []byte, key string) []byte {
	it := newObjIter(obj, 1)
	for k, _, val, ok := it.next(); ok; k, _, val, ok = it.next() {
		if string(k) == key && kindOf(val) == jString {
			return strContent(val)
		}
	}
	return nil
}

func onlyKey(obj []byte, key string) bool {
	it := newObjIter(obj, 1)
	n := 0
	for k, _, _, ok := it.next(); ok; k, _, _, ok = it.next() {
		if string(k) != key {
			return false
		}
		n++
	}
	return n == 1
}

// STIX 2.1 §7.3: extension_properties only for toplevel-property-extension.
func checkExtensionDefinition(v *validator, s *objState) {
	if s.has("extension_properties") && !bytes.Contains(s.get("extension_types"), []byte(`"toplevel-property-extension"`)) {
		v.at("extension_properties", Error, "extension_properties is only allowed when extension_types has toplevel-property-extension (STIX 2.1 §7.3)")
	}
}

// STIX 2.1 §6.1: exactly one of payload_bin and url; url needs hashes;
// decryption_key needs encryption_algorithm.
func checkArtifact(v *validator, s *objState) {
	if !s.has("payload_bin") && !s.has("url") {
		v.at("payload_bin", Error, "artifact needs one of payload_bin or url (STIX 2.1 §6.1)")
	}
	if s.has("payload_bin") && s.has("url") {
		v.at("url", Error, "payload_bin and url must not both be present (STIX 2.1 §6.1)")
	}
	if s.has("url") && !s.has("hashes") {
		v.at("hashes", Error, "hashes is required when url is present (STIX 2.1 §6.1)")
	}
	if s.has("decryption_key") && !s.has("encryption_algorithm") {
		v.at("decryption_key", Error, "decryption_key must not be present without encryption_algorithm (STIX 2.1 §6.1)")
	}
}

// STIX 2.1 §6.5: value is an RFC 5322 addr-spec.
func checkEmailAddr(v *validator, s *objState) {
	if val := strContent(s.get("value")); val != nil && bytes.IndexByte(val, '@') <= 0 {
		v.at("value", Error, "value %q must be an email address (RFC 5322 addr-spec, STIX 2.1 §6.5)", val)
	}
}

// STIX 2.1 §6.6.2: a MIME part has body or body_raw_ref, not both.
func checkMimePart(v *validator, s *objState) {
	if s.has("body") == s.has("body_raw_ref") {
		v.at("body", Error, "a MIME part needs exactly one of body or body_raw_ref (STIX 2.1 §6.6.2)")
	}
}

// STIX 2.1 §6.6: body for single-part, body_multipart for multipart.
func checkEmailMessage(v *validator, s *objState) {
	multi := isTrue(s.get("is_multipart"))
	if multi && s.has("body") {
		v.at("body", Error, "body must not be present when is_multipart is true (STIX 2.1 §6.6)")
	}
	if !multi && s.has("body_multipart") {
		v.at("body_multipart", Error, "body_multipart must not be present when is_multipart is false (STIX 2.1 §6.6)")
	}
}

// STIX 2.1 §6.7: a file has hashes or name.
func checkFile(v *validator, s *objState) {
	if !s.has("hashes") && !s.has("name") {
		v.at("name", Error, "file needs hashes or name (STIX 2.1 §6.7)")
	}
}

// STIX 2.1 §6.8 and §6.9: one address or a CIDR block.
func checkIPv4(v *validator, s *objState) { checkIP(v, s, true) }
func checkIPv6(v *validator, s *objState) { checkIP(v, s, false) }

func checkIP(v *validator, s *objState, four bool) {
	val := strContent(s.get("value"))
	if val == nil {
		return
	}
	str := string(val)
	var addr netip.Addr
	var err error
	if bytes.IndexByte(val, '/') >= 0 {
		var pfx netip.Prefix
		pfx, err = netip.ParsePrefix(str)
		addr = pfx.Addr()
	} else {
		addr, err = netip.ParseAddr(str)
	}
	if err != nil || four != addr.Is4() {
		fam := "IPv4"
		if !four {
			fam = "IPv6"
		}
		v.at("value", Error, "value %q must be an %s address or CIDR block (STIX 2.1 §6)", val, fam)
	}
}

// STIX 2.1 §6.10: colon-delimited lowercase MAC-48 (or EUI-64) with
// leading zeros.
func checkMAC(v *validator, s *objState) {
	val := strContent(s.get("value"))
	if val == nil {
		return
	}
	ok := len(val) == 17 || len(val) == 23
	for i := 0; ok && i < len(val); i++ {
		c := val[i]
		if i%3 == 2 {
			ok = c == ':'
		} else {
			ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'f'
		}
	}
	if !ok {
		v.at("value", Error, "value %q must be a lowercase, colon-delimited MAC address like 00:00:5e:00:53:00 (STIX 2.1 §6.10)", val)
	}
}

// STIX 2.1 §6.12: src_ref or dst_ref; no end while active.
func checkNetworkTraffic(v *validator, s *objState) {
	if !s.has("src_ref") && !s.has("dst_ref") {
		v.at("src_ref", Error, "network-traffic needs src_ref or dst_ref (STIX 2.1 §6.12)")
	}
	if isTrue(s.get("is_active")) && s.has("end") {
		v.at("end", Error, "end must not be present when is_active is true (STIX 2.1 §6.12)")
	}
}

// STIX 2.1 §6.13, §6.16, §6.17, §6.18: these SCOs must carry at least one
// property of their own (or an extension) besides the common ones.
func checkAtLeastOne(v *validator, s *objState) {
	var common uint64
	for _, n := range []string{"type", "id", "spec_version", "object_marking_refs", "granular_markings", "defanged"} {
		if i, ok := s.spec.idxOf(n); ok {
			common |= 1 << i
		}
	}
	if s.seen&^common == 0 {
		v.errorf("%s must have at least one property besides the common ones", specName(s))
	}
}

// STIX 2.1 §6.15: value is a URL per RFC 3986.
func checkURL(v *validator, s *objState) {
	val := strContent(s.get("value"))
	if val == nil {
		return
	}
	if len(val) == 0 {
		v.at("value", Error, "value must not be empty (STIX 2.1 §6.15)")
		return
	}
	if v.opts.Strict {
		if u, err := url.Parse(string(val)); err != nil || u.Scheme == "" {
			v.at("value", Warning, "value %q should be an absolute URL (RFC 3986)", val)
		}
	}
}

// STIX 2.1 §6.7.1-§6.7.5, §6.12.1-§6.12.4, §6.13.1-§6.13.2, §6.17.1: an
// object using a predefined extension MUST contain at least one property
// from it (the properties the extension requires are checked on their
// own). The same holds for the PE optional header type (§6.7.6.1), the
// Windows registry value type (§6.16.1) and the X.509 v3 extensions type
// (§6.18.1).
func checkExtensionNotEmpty(v *validator, s *objState) {
	if s.seen == 0 {
		v.errorf("%s must contain at least one property", specName(s))
	}
}

// STIX 2.1 §6.7.5: besides the required pe_type, at least one property of
// the extension; time_date_stamp is precise to the second (no fraction).
func checkPEBinary(v *validator, s *objState) {
	if i, ok := s.spec.idxOf("pe_type"); ok && s.seen&^(1<<i) == 0 {
		v.errorf("windows-pebinary-ext must contain at least one property besides pe_type (STIX 2.1 §6.7.5)")
	}
	if ts := s.get("time_date_stamp"); ts != nil {
		if _, frac, ok := parseTS(strContent(ts)); ok && frac > 0 {
			v.at("time_date_stamp", Error, "time_date_stamp must be precise to the second, without fractional seconds (STIX 2.1 §6.7.5), not %s", ts)
		}
	}
}

// abbreviatedHives are the short hive names STIX 2.1 §6.16 forbids.
var abbreviatedHives = map[string]bool{"HKLM": true, "HKCC": true, "HKCR": true, "HKCU": true, "HKU": true}

// STIX 2.1 §6.16: at least one property of its own, and the hive in key
// MUST be fully expanded (HKEY_LOCAL_MACHINE, not HKLM).
func checkRegistryKey(v *validator, s *objState) {
	checkAtLeastOne(v, s)
	key := strContent(s.get("key"))
	if key == nil {
		return
	}
	hive := key
	if i := bytes.IndexByte(key, '\\'); i >= 0 {
		hive = key[:i]
	}
	if abbreviatedHives[string(bytes.ToUpper(hive))] {
		v.at("key", Error, "key must use the full hive name (HKEY_LOCAL_MACHINE, not HKLM) (STIX 2.1 §6.16), not %q", hive)
	}
}
