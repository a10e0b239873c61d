package stix

import "sort"

// This file is the STIX 2.1 object catalogue: for every object type and
// every embedded type, which properties exist, which are required, and what
// type each has. The tables follow the property tables of STIX 2.1 §4
// (SDOs), §5 (SROs), §6 (SCOs and their predefined extensions) and §7
// (meta objects and common types).

// kind is the STIX property type (STIX 2.1 §2) as checked here.
type kind uint8

const (
	kString kind = iota
	kInt
	kFloat
	kBool
	kTimestamp   // any precision
	kTimestampMs // created/modified: at least millisecond precision
	// kTimestampMsShould is created on a marking definition: STIX 2.1 asks
	// for millisecond precision, but the OASIS schema for marking
	// definitions accepts any timestamp and widely shared markings (ACS,
	// ATT&CK's) have second precision, so refusing them would only break
	// interoperability. Below millisecond is a warning under strict.
	kTimestampMsShould
	kType        // the type property itself
	kSpecVersion // spec_version: "2.1"
	kSelfID      // the id property: prefix equal to type
	kID          // an identifier (a _ref property)
	kIDList      // a list of identifiers (a _refs property)
	kStringList
	kVocab // open vocabulary: SHOULD
	kVocabList
	kEnum // enumeration: MUST
	kEnumList
	kDict
	kHashes
	kObject
	kObjectList
	kHex
	kBinary
	kAny
	kExtensions
	kGranular
	kLangContents
)

// refClass restricts which object types an identifier may point to.
type refClass uint8

const (
	refAny      refClass = iota
	refTypes             // exactly the listed types
	refSDO               // any SDO (custom types included)
	refSCO               // any SCO (custom types included)
	refSDOorSCO          // relationship ends
	refSCOorSRO          // observed-data object_refs
)

type prop struct {
	name     string
	kind     kind
	req      bool
	idx      uint8
	refs     refClass
	refTypes []string
	voc      *vocab
	sub      *spec
	hasMin   bool
	hasMax   bool
	min, max float64
}

// objClass says what kind of object a spec describes.
type objClass uint8

const (
	classSDO objClass = iota
	classSRO
	classSCO
	classMeta
	classEmbedded
)

// spec describes one object or embedded type.
type spec struct {
	name  string
	class objClass
	props map[string]*prop
	// table is props again, for findProp: validation looks up every
	// member of every object, and the map's hashing was a sixth of
	// Validate.
	table   nameTable[*prop]
	list    []*prop
	reqMask uint64
	// open accepts any well-named property (custom objects, and extension
	// instances whose schema we cannot know).
	open bool
	// order lists pairs of timestamps where the second must not be earlier
	// (or, when strict, must be later) than the first.
	order []orderRule
	check func(v *validator, s *objState)
	// extensions maps a predefined extension name to its spec (STIX 2.1
	// §6: archive-ext on file, and so on).
	extensions map[string]*spec
}

type orderRule struct {
	first, second string
	strict        bool
}

func (s *spec) idxOf(name string) (uint8, bool) {
	p := findProp(s, name)
	if p == nil {
		return 0, false
	}
	return p.idx, true
}

// findProp returns the property of s named key, or nil.
func findProp[K string | []byte](s *spec, key K) *prop {
	p, _ := lookupName(&s.table, key)
	return p
}

// p builds a property; the helpers below refine it.
func p(name string, k kind) prop { return prop{name: name, kind: k} }

func (x prop) required() prop { x.req = true; return x }
func (x prop) refsTo(types ...string) prop {
	x.refs, x.refTypes = refTypes, types
	return x
}
func (x prop) refsClass(c refClass) prop { x.refs = c; return x }
func (x prop) vocab(v *vocab) prop       { x.voc = v; return x }
func (x prop) of(s *spec) prop           { x.sub = s; return x }
func (x prop) atLeast(n float64) prop    { x.hasMin, x.min = true, n; return x }
func (x prop) between(lo, hi float64) prop {
	x.hasMin, x.min, x.hasMax, x.max = true, lo, true, hi
	return x
}

func newSpec(name string, class objClass, groups ...[]prop) *spec {
	s := &spec{name: name, class: class, props: map[string]*prop{}}
	for _, g := range groups {
		for _, q := range g {
			if _, dup := s.props[q.name]; dup {
				continue // a type-specific definition repeats a common one
			}
			q := q
			if len(s.list) >= 64 {
				panic("stix: too many properties in " + name)
			}
			q.idx = uint8(len(s.list))
			if q.req {
				s.reqMask |= 1 << q.idx
			}
			s.props[q.name] = &q
			s.list = append(s.list, &q)
		}
	}
	names := make([]string, len(s.list))
	for i, q := range s.list {
		names[i] = q.name
	}
	s.table = newNameTable(names, s.list)
	return s
}

func props(ps ...prop) []prop { return ps }

// catalog is every spec, built once by newCatalog and read-only after.
type catalog struct {
	voc   *vocabularies
	types map[string]*spec
	// typeTable is types again, for the lookup of every object's type.
	typeTable nameTable[*spec]
	sdos      map[string]bool
	sros      map[string]bool
	scos      map[string]bool
	metas     map[string]bool
	granular  *spec
	extInst   *spec // an extension-definition--UUID instance
	custom    map[objClass]*spec
}

// cat is the package's read-only catalogue of STIX 2.1 types.
var cat = newCatalog()

func newCatalog() *catalog {
	v := newVocabularies()
	c := &catalog{voc: v, types: map[string]*spec{}, sdos: map[string]bool{}, sros: map[string]bool{},
		scos: map[string]bool{}, metas: map[string]bool{}, custom: map[objClass]*spec{}}

	// Embedded types, STIX 2.1 §2 and §7.
	hashes := p("hashes", kHashes)
	extRef := newSpec("external-reference", classEmbedded, props(
		p("source_name", kString).required(), p("description", kString), p("url", kString),
		hashes, p("external_id", kString)))
	extRef.check = checkExternalReference
	killChain := newSpec("kill-chain-phase", classEmbedded, props(
		p("kill_chain_name", kString).required(), p("phase_name", kString).required()))
	killChain.check = checkKillChainPhase
	c.granular = newSpec("granular-marking", classEmbedded, props(
		p("lang", kString), p("marking_ref", kID).refsTo("marking-definition"),
		p("selectors", kStringList).required()))
	c.granular.check = checkGranularMarking
	c.extInst = newSpec("extension", classEmbedded, props(
		p("extension_type", kEnum).vocab(v.extensionType)))
	c.extInst.open = true

	kcp := p("kill_chain_phases", kObjectList).of(killChain)
	extRefs := p("external_references", kObjectList).of(extRef)
	markingRefs := p("object_marking_refs", kIDList).refsTo("marking-definition")
	granular := p("granular_markings", kGranular)
	extensions := p("extensions", kExtensions)
	createdBy := p("created_by_ref", kID).refsTo("identity")

	// Common properties, STIX 2.1 §3.2 (SDOs and SROs) and §6.1 (SCOs).
	sdoCommon := props(
		p("type", kType).required(), p("spec_version", kSpecVersion).required(), p("id", kSelfID).required(),
		createdBy, p("created", kTimestampMs).required(), p("modified", kTimestampMs).required(),
		p("revoked", kBool), p("labels", kStringList), p("confidence", kInt).between(0, 100),
		p("lang", kString), extRefs, markingRefs, granular, extensions)
	scoCommon := props(
		p("type", kType).required(), p("id", kSelfID).required(), p("spec_version", kSpecVersion),
		markingRefs, granular, p("defanged", kBool), extensions)
	// Custom objects (STIX 2.1 §11.2 and extension-definition new-*): only
	// the common properties are known; everything else is the producer's.
	customCommon := props(
		p("type", kType).required(), p("id", kSelfID).required(), p("spec_version", kSpecVersion),
		createdBy, p("created", kTimestampMs), p("modified", kTimestampMs), p("revoked", kBool),
		p("labels", kStringList), p("confidence", kInt).between(0, 100), p("lang", kString),
		extRefs, markingRefs, granular, p("defanged", kBool), extensions)
	for _, cl := range []objClass{classSDO, classSRO, classSCO} {
		var s *spec
		switch cl {
		case classSCO:
			s = newSpec("custom", cl, scoCommon)
		default:
			s = newSpec("custom", cl, sdoCommon)
		}
		s.open = true
		c.custom[cl] = s
	}
	xCustom := newSpec("custom", classSDO, customCommon)
	xCustom.open = true
	c.custom[classEmbedded] = xCustom // x- prefixed types, class unknown

	sdo := func(name string, ps ...prop) *spec {
		s := newSpec(name, classSDO, sdoCommon, ps)
		c.types[name], c.sdos[name] = s, true
		return s
	}
	seen := []orderRule{{"first_seen", "last_seen", false}}

	sdo("attack-pattern", p("name", kString).required(), p("description", kString),
		p("aliases", kStringList), kcp)
	sdo("campaign", p("name", kString).required(), p("description", kString), p("aliases", kStringList),
		p("first_seen", kTimestamp), p("last_seen", kTimestamp), p("objective", kString)).order = seen
	sdo("course-of-action", p("name", kString).required(), p("description", kString))
	sdo("grouping", p("name", kString), p("description", kString),
		p("context", kVocab).vocab(v.groupingContext).required(), p("object_refs", kIDList).required())
	sdo("identity", p("name", kString).required(), p("description", kString), p("roles", kStringList),
		p("identity_class", kVocab).vocab(v.identityClass), p("sectors", kVocabList).vocab(v.industrySector),
		p("contact_information", kString))
	sdo("incident", p("name", kString).required(), p("description", kString), kcp)
	sdo("indicator", p("name", kString), p("description", kString),
		p("indicator_types", kVocabList).vocab(v.indicatorType), p("pattern", kString).required(),
		p("pattern_type", kVocab).vocab(v.patternType).required(), p("pattern_version", kString),
		p("valid_from", kTimestamp).required(), p("valid_until", kTimestamp), kcp).order =
		[]orderRule{{"valid_from", "valid_until", true}}
	sdo("infrastructure", p("name", kString).required(), p("description", kString),
		p("infrastructure_types", kVocabList).vocab(v.infrastructureType), p("aliases", kStringList), kcp,
		p("first_seen", kTimestamp), p("last_seen", kTimestamp)).order = seen
	sdo("intrusion-set", p("name", kString).required(), p("description", kString), p("aliases", kStringList),
		p("first_seen", kTimestamp), p("last_seen", kTimestamp), p("goals", kStringList),
		p("resource_level", kVocab).vocab(v.attackResourceLevel),
		p("primary_motivation", kVocab).vocab(v.attackMotivation),
		p("secondary_motivations", kVocabList).vocab(v.attackMotivation)).order = seen
	sdo("location", p("name", kString), p("description", kString), p("latitude", kFloat).between(-90, 90),
		p("longitude", kFloat).between(-180, 180), p("precision", kFloat).atLeast(0),
		p("region", kVocab).vocab(v.region), p("country", kString), p("administrative_area", kString),
		p("city", kString), p("street_address", kString), p("postal_code", kString)).check = checkLocation
	sdo("malware", p("name", kString), p("description", kString),
		p("malware_types", kVocabList).vocab(v.malwareType), p("is_family", kBool).required(),
		p("aliases", kStringList), kcp, p("first_seen", kTimestamp), p("last_seen", kTimestamp),
		p("operating_system_refs", kIDList).refsTo("software"),
		p("architecture_execution_envs", kVocabList).vocab(v.processorArchitecture),
		p("implementation_languages", kVocabList).vocab(v.implementationLanguage),
		p("capabilities", kVocabList).vocab(v.malwareCapabilities),
		p("sample_refs", kIDList).refsTo("file", "artifact")).check = checkMalware
	c.types["malware"].order = seen
	sdo("malware-analysis", p("product", kString).required(), p("version", kString),
		p("host_vm_ref", kID).refsTo("software"), p("operating_system_ref", kID).refsTo("software"),
		p("installed_software_refs", kIDList).refsTo("software"), p("configuration_version", kString),
		p("modules", kStringList), p("analysis_engine_version", kString),
		p("analysis_definition_version", kString), p("submitted", kTimestamp),
		p("analysis_started", kTimestamp), p("analysis_ended", kTimestamp), p("result_name", kString),
		p("result", kVocab).vocab(v.malwareResult), p("analysis_sco_refs", kIDList).refsClass(refSCO),
		p("sample_ref", kID).refsTo("file", "artifact", "network-traffic")).check = checkMalwareAnalysis
	c.types["malware-analysis"].order = []orderRule{{"analysis_started", "analysis_ended", false}}
	sdo("note", p("abstract", kString), p("content", kString).required(), p("authors", kStringList),
		p("object_refs", kIDList).required())
	sdo("observed-data", p("first_observed", kTimestamp).required(), p("last_observed", kTimestamp).required(),
		p("number_observed", kInt).between(1, 999999999).required(), p("objects", kDict),
		p("object_refs", kIDList).refsClass(refSCOorSRO)).check = checkObservedData
	c.types["observed-data"].order = []orderRule{{"first_observed", "last_observed", false}}
	sdo("opinion", p("explanation", kString), p("authors", kStringList),
		p("opinion", kEnum).vocab(v.opinion).required(), p("object_refs", kIDList).required())
	sdo("report", p("name", kString).required(), p("description", kString),
		p("report_types", kVocabList).vocab(v.reportType), p("published", kTimestamp).required(),
		p("object_refs", kIDList).required())
	sdo("threat-actor", p("name", kString).required(), p("description", kString),
		p("threat_actor_types", kVocabList).vocab(v.threatActorType), p("aliases", kStringList),
		p("first_seen", kTimestamp), p("last_seen", kTimestamp),
		p("roles", kVocabList).vocab(v.threatActorRole), p("goals", kStringList),
		p("sophistication", kVocab).vocab(v.threatActorSophistication),
		p("resource_level", kVocab).vocab(v.attackResourceLevel),
		p("primary_motivation", kVocab).vocab(v.attackMotivation),
		p("secondary_motivations", kVocabList).vocab(v.attackMotivation),
		p("personal_motivations", kVocabList).vocab(v.attackMotivation)).order = seen
	sdo("tool", p("name", kString).required(), p("description", kString),
		p("tool_types", kVocabList).vocab(v.toolType), p("aliases", kStringList), kcp,
		p("tool_version", kString))
	sdo("vulnerability", p("name", kString).required(), p("description", kString))

	// SROs, STIX 2.1 §5.
	sro := func(name string, ps ...prop) *spec {
		s := newSpec(name, classSRO, sdoCommon, ps)
		c.types[name], c.sros[name] = s, true
		return s
	}
	sro("relationship", p("relationship_type", kString).required(), p("description", kString),
		p("source_ref", kID).refsClass(refSDOorSCO).required(), p("target_ref", kID).refsClass(refSDOorSCO).required(),
		p("start_time", kTimestamp), p("stop_time", kTimestamp)).check = checkRelationship
	c.types["relationship"].order = []orderRule{{"start_time", "stop_time", true}}
	sro("sighting", p("description", kString), p("first_seen", kTimestamp), p("last_seen", kTimestamp),
		p("count", kInt).between(0, 999999999), p("sighting_of_ref", kID).refsClass(refSDO).required(),
		p("observed_data_refs", kIDList).refsTo("observed-data"),
		p("where_sighted_refs", kIDList).refsTo("identity", "location"), p("summary", kBool)).order = seen

	// Meta objects, STIX 2.1 §7.
	langCommon := make([]prop, 0, len(sdoCommon))
	for _, q := range sdoCommon {
		if q.name != "lang" { // language-content has no lang property (§7.1)
			langCommon = append(langCommon, q)
		}
	}
	lc := newSpec("language-content", classMeta, langCommon, props(
		p("object_ref", kID).required(), p("object_modified", kTimestamp),
		p("contents", kLangContents).required()))
	c.types[lc.name], c.metas[lc.name] = lc, true
	md := newSpec("marking-definition", classMeta, props(
		p("type", kType).required(), p("spec_version", kSpecVersion).required(), p("id", kSelfID).required(),
		createdBy, p("created", kTimestampMsShould).required(), extRefs, markingRefs, granular, extensions,
		p("name", kString), p("definition_type", kString), p("definition", kDict)))
	md.check = checkMarkingDefinition
	c.types[md.name], c.metas[md.name] = md, true
	edCommon := make([]prop, 0, len(sdoCommon))
	for _, q := range sdoCommon {
		if q.name == "created_by_ref" {
			q = q.required() // STIX 2.1 §7.3: required on extension definitions
		}
		edCommon = append(edCommon, q)
	}
	ed := newSpec("extension-definition", classMeta, edCommon, props(
		p("name", kString).required(), p("description", kString), p("schema", kString).required(),
		p("version", kString).required(), p("extension_types", kEnumList).vocab(v.extensionType).required(),
		p("extension_properties", kStringList)))
	ed.check = checkExtensionDefinition
	c.types[ed.name], c.metas[ed.name] = ed, true

	// SCOs, STIX 2.1 §6.
	sco := func(name string, ps ...prop) *spec {
		s := newSpec(name, classSCO, scoCommon, ps)
		c.types[name], c.scos[name] = s, true
		return s
	}
	emb := func(name string, ps ...prop) *spec { return newSpec(name, classEmbedded, ps) }

	sco("artifact", p("mime_type", kString), p("payload_bin", kBinary), p("url", kString), hashes,
		p("encryption_algorithm", kEnum).vocab(v.encryptionAlgorithm), p("decryption_key", kString)).check = checkArtifact
	sco("autonomous-system", p("number", kInt).atLeast(0).required(), p("name", kString), p("rir", kString))
	sco("directory", p("path", kString).required(), p("path_enc", kString), p("ctime", kTimestamp),
		p("mtime", kTimestamp), p("atime", kTimestamp), p("contains_refs", kIDList).refsTo("file", "directory"))
	sco("domain-name", p("value", kString).required(),
		p("resolves_to_refs", kIDList).refsTo("ipv4-addr", "ipv6-addr", "domain-name"))
	sco("email-addr", p("value", kString).required(), p("display_name", kString),
		p("belongs_to_ref", kID).refsTo("user-account")).check = checkEmailAddr
	mimePart := emb("mime-part-type", p("body", kString), p("body_raw_ref", kID).refsTo("artifact", "file"),
		p("content_type", kString), p("content_disposition", kString))
	mimePart.check = checkMimePart
	sco("email-message", p("is_multipart", kBool).required(), p("date", kTimestamp), p("content_type", kString),
		p("from_ref", kID).refsTo("email-addr"), p("sender_ref", kID).refsTo("email-addr"),
		p("to_refs", kIDList).refsTo("email-addr"), p("cc_refs", kIDList).refsTo("email-addr"),
		p("bcc_refs", kIDList).refsTo("email-addr"), p("message_id", kString), p("subject", kString),
		p("received_lines", kStringList), p("additional_header_fields", kDict), p("body", kString),
		p("body_multipart", kObjectList).of(mimePart), p("raw_email_ref", kID).refsTo("artifact")).check = checkEmailMessage
	altStream := emb("alternate-data-stream-type", p("name", kString).required(), hashes, p("size", kInt).atLeast(0))
	optHeader := emb("windows-pe-optional-header-type",
		p("magic_hex", kHex), p("major_linker_version", kInt), p("minor_linker_version", kInt),
		p("size_of_code", kInt).atLeast(0), p("size_of_initialized_data", kInt).atLeast(0),
		p("size_of_uninitialized_data", kInt).atLeast(0), p("address_of_entry_point", kInt),
		p("base_of_code", kInt), p("base_of_data", kInt), p("image_base", kInt), p("section_alignment", kInt),
		p("file_alignment", kInt), p("major_os_version", kInt), p("minor_os_version", kInt),
		p("major_image_version", kInt), p("minor_image_version", kInt), p("major_subsystem_version", kInt),
		p("minor_subsystem_version", kInt), p("win32_version_value_hex", kHex), p("size_of_image", kInt).atLeast(0),
		p("size_of_headers", kInt).atLeast(0), p("checksum_hex", kHex), p("subsystem_hex", kHex),
		p("dll_characteristics_hex", kHex), p("size_of_stack_reserve", kInt).atLeast(0),
		p("size_of_stack_commit", kInt).atLeast(0), p("size_of_heap_reserve", kInt),
		p("size_of_heap_commit", kInt), p("loader_flags_hex", kHex), p("number_of_rva_and_sizes", kInt), hashes)
	optHeader.check = checkExtensionNotEmpty
	peSection := emb("windows-pe-section-type", p("name", kString).required(), p("size", kInt).atLeast(0),
		p("entropy", kFloat), hashes)
	file := sco("file", hashes, p("size", kInt).atLeast(0), p("name", kString), p("name_enc", kString),
		p("magic_number_hex", kHex), p("mime_type", kString), p("ctime", kTimestamp), p("mtime", kTimestamp),
		p("atime", kTimestamp), p("parent_directory_ref", kID).refsTo("directory"),
		p("contains_refs", kIDList).refsClass(refSCO), p("content_ref", kID).refsTo("artifact"))
	file.check = checkFile
	file.extensions = map[string]*spec{
		"archive-ext": emb("archive-ext", p("contains_refs", kIDList).refsTo("file", "directory").required(),
			p("comment", kString)),
		"ntfs-ext": emb("ntfs-ext", p("sid", kString),
			p("alternate_data_streams", kObjectList).of(altStream)),
		"pdf-ext": emb("pdf-ext", p("version", kString), p("is_optimized", kBool),
			p("document_info_dict", kDict), p("pdfid0", kString), p("pdfid1", kString)),
		"raster-image-ext": emb("raster-image-ext", p("image_height", kInt), p("image_width", kInt),
			p("bits_per_pixel", kInt), p("exif_tags", kDict)),
		"windows-pebinary-ext": emb("windows-pebinary-ext",
			p("pe_type", kVocab).vocab(v.peBinaryType).required(), p("imphash", kString),
			p("machine_hex", kHex), p("number_of_sections", kInt).atLeast(0), p("time_date_stamp", kTimestamp),
			p("pointer_to_symbol_table_hex", kHex), p("number_of_symbols", kInt).atLeast(0),
			p("size_of_optional_header", kInt).atLeast(0), p("characteristics_hex", kHex),
			p("file_header_hashes", kHashes), p("optional_header", kObject).of(optHeader),
			p("sections", kObjectList).of(peSection)),
	}
	for name, ext := range file.extensions {
		if name == "windows-pebinary-ext" {
			ext.check = checkPEBinary
		} else {
			ext.check = checkExtensionNotEmpty
		}
	}
	sco("ipv4-addr", p("value", kString).required(), p("resolves_to_refs", kIDList).refsTo("mac-addr"),
		p("belongs_to_refs", kIDList).refsTo("autonomous-system")).check = checkIPv4
	sco("ipv6-addr", p("value", kString).required(), p("resolves_to_refs", kIDList).refsTo("mac-addr"),
		p("belongs_to_refs", kIDList).refsTo("autonomous-system")).check = checkIPv6
	sco("mac-addr", p("value", kString).required()).check = checkMAC
	sco("mutex", p("name", kString).required())
	addrTypes := []string{"ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"}
	nt := sco("network-traffic", p("start", kTimestamp), p("end", kTimestamp), p("is_active", kBool),
		p("src_ref", kID).refsTo(addrTypes...), p("dst_ref", kID).refsTo(addrTypes...),
		p("src_port", kInt).between(0, 65535), p("dst_port", kInt).between(0, 65535),
		p("protocols", kStringList).required(), p("src_byte_count", kInt).atLeast(0),
		p("dst_byte_count", kInt).atLeast(0), p("src_packets", kInt).atLeast(0), p("dst_packets", kInt).atLeast(0),
		p("ipfix", kDict), p("src_payload_ref", kID).refsTo("artifact"), p("dst_payload_ref", kID).refsTo("artifact"),
		p("encapsulates_refs", kIDList).refsTo("network-traffic"),
		p("encapsulated_by_ref", kID).refsTo("network-traffic"))
	nt.check = checkNetworkTraffic
	nt.order = []orderRule{{"start", "end", false}}
	nt.extensions = map[string]*spec{
		"http-request-ext": emb("http-request-ext", p("request_method", kString).required(),
			p("request_value", kString).required(), p("request_version", kString), p("request_header", kDict),
			p("message_body_length", kInt).atLeast(0), p("message_body_data_ref", kID).refsTo("artifact")),
		"icmp-ext": emb("icmp-ext", p("icmp_type_hex", kHex).required(), p("icmp_code_hex", kHex).required()),
		"socket-ext": emb("socket-ext", p("address_family", kEnum).vocab(v.socketAddressFamily).required(),
			p("is_blocking", kBool), p("is_listening", kBool), p("options", kDict),
			p("socket_type", kEnum).vocab(v.socketType), p("socket_descriptor", kInt).atLeast(0),
			p("socket_handle", kInt)),
		"tcp-ext": emb("tcp-ext", p("src_flags_hex", kHex), p("dst_flags_hex", kHex)),
	}
	for _, ext := range nt.extensions {
		ext.check = checkExtensionNotEmpty
	}
	proc := sco("process", p("is_hidden", kBool), p("pid", kInt), p("created_time", kTimestamp),
		p("cwd", kString), p("command_line", kString), p("environment_variables", kDict),
		p("opened_connection_refs", kIDList).refsTo("network-traffic"),
		p("creator_user_ref", kID).refsTo("user-account"), p("image_ref", kID).refsTo("file"),
		p("parent_ref", kID).refsTo("process"), p("child_refs", kIDList).refsTo("process"))
	proc.check = checkAtLeastOne
	proc.extensions = map[string]*spec{
		"windows-process-ext": emb("windows-process-ext", p("aslr_enabled", kBool), p("dep_enabled", kBool),
			p("priority", kString), p("owner_sid", kString), p("window_title", kString), p("startup_info", kDict),
			p("integrity_level", kEnum).vocab(v.windowsIntegrityLevel)),
		"windows-service-ext": emb("windows-service-ext", p("service_name", kString),
			p("descriptions", kStringList), p("display_name", kString), p("group_name", kString),
			p("start_type", kEnum).vocab(v.serviceStartType), p("service_dll_refs", kIDList).refsTo("file"),
			p("service_type", kEnum).vocab(v.serviceType), p("service_status", kEnum).vocab(v.serviceStatus)),
	}
	for _, ext := range proc.extensions {
		ext.check = checkExtensionNotEmpty
	}
	sco("software", p("name", kString).required(), p("cpe", kString), p("swid", kString),
		p("languages", kStringList), p("vendor", kString), p("version", kString))
	sco("url", p("value", kString).required()).check = checkURL
	ua := sco("user-account", p("user_id", kString), p("credential", kString), p("account_login", kString),
		p("account_type", kVocab).vocab(v.accountType), p("display_name", kString),
		p("is_service_account", kBool), p("is_privileged", kBool), p("can_escalate_privs", kBool),
		p("is_disabled", kBool), p("account_created", kTimestamp), p("account_expires", kTimestamp),
		p("credential_last_changed", kTimestamp), p("account_first_login", kTimestamp),
		p("account_last_login", kTimestamp))
	ua.check = checkAtLeastOne
	ua.extensions = map[string]*spec{
		"unix-account-ext": emb("unix-account-ext", p("gid", kInt), p("groups", kStringList),
			p("home_dir", kString), p("shell", kString)),
	}
	ua.extensions["unix-account-ext"].check = checkExtensionNotEmpty
	regValue := emb("windows-registry-value-type", p("name", kString), p("data", kString),
		p("data_type", kEnum).vocab(v.registryDatatype))
	regValue.check = checkExtensionNotEmpty
	sco("windows-registry-key", p("key", kString), p("values", kObjectList).of(regValue),
		p("modified_time", kTimestamp), p("creator_user_ref", kID).refsTo("user-account"),
		p("number_of_subkeys", kInt).atLeast(0)).check = checkRegistryKey
	x509ext := emb("x509-v3-extensions-type", p("basic_constraints", kString), p("name_constraints", kString),
		p("policy_constraints", kString), p("key_usage", kString), p("extended_key_usage", kString),
		p("subject_key_identifier", kString), p("authority_key_identifier", kString),
		p("subject_alternative_name", kString), p("issuer_alternative_name", kString),
		p("subject_directory_attributes", kString), p("crl_distribution_points", kString),
		p("inhibit_any_policy", kString), p("private_key_usage_period_not_before", kTimestamp),
		p("private_key_usage_period_not_after", kTimestamp), p("certificate_policies", kString),
		p("policy_mappings", kString))
	x509ext.check = checkExtensionNotEmpty
	x509 := sco("x509-certificate", p("is_self_signed", kBool), hashes, p("version", kString),
		p("serial_number", kString), p("signature_algorithm", kString), p("issuer", kString),
		p("validity_not_before", kTimestamp), p("validity_not_after", kTimestamp), p("subject", kString),
		p("subject_public_key_algorithm", kString), p("subject_public_key_modulus", kString),
		p("subject_public_key_exponent", kInt).atLeast(0), p("x509_v3_extensions", kObject).of(x509ext))
	x509.check = checkAtLeastOne
	x509.order = []orderRule{{"validity_not_before", "validity_not_after", false}}

	names := make([]string, 0, len(c.types))
	for name := range c.types {
		names = append(names, name)
	}
	sort.Strings(names) // the same table on every run
	specs := make([]*spec, len(names))
	for i, name := range names {
		specs[i] = c.types[name]
	}
	c.typeTable = newNameTable(names, specs)
	return c
}
