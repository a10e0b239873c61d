package stix

import "strings"

// vocab is an open vocabulary (STIX 2.1 §10: values SHOULD come from it) or
// an enumeration (values MUST come from it).
type vocab struct {
	name   string
	closed bool
	values map[string]struct{}
	table  nameTable[struct{}] // values again, for has
}

func newVocab(name string, closed bool, list string) *vocab {
	v := &vocab{name: name, closed: closed, values: map[string]struct{}{}}
	var names []string
	for _, s := range strings.Fields(list) {
		if _, dup := v.values[s]; !dup {
			v.values[s] = struct{}{}
			names = append(names, s)
		}
	}
	v.table = newNameTable(names, make([]struct{}, len(names)))
	return v
}

func (v *vocab) has(s []byte) bool {
	_, ok := lookupName(&v.table, s)
	return ok
}

// vocabularies holds every STIX 2.1 vocabulary and enumeration used by
// the object tables. It is built once and never modified.
type vocabularies struct {
	attackMotivation, attackResourceLevel, groupingContext, identityClass,
	implementationLanguage, indicatorType, industrySector, infrastructureType,
	malwareResult, malwareCapabilities, malwareType, patternType,
	processorArchitecture, region, reportType, threatActorType, threatActorRole,
	threatActorSophistication, toolType, accountType, hashAlgorithm,
	peBinaryType, relationshipType *vocab

	encryptionAlgorithm, extensionType, socketAddressFamily, socketType,
	opinion, windowsIntegrityLevel, registryDatatype, serviceStartType,
	serviceType, serviceStatus, tlpLevel *vocab
}

func newVocabularies() *vocabularies {
	return &vocabularies{
		// Open vocabularies, STIX 2.1 §10.
		attackMotivation:          newVocab("attack-motivation-ov", false, "accidental coercion dominance ideology notoriety organizational-gain personal-gain personal-satisfaction revenge unpredictable"),
		attackResourceLevel:       newVocab("attack-resource-level-ov", false, "individual club contest team organization government"),
		groupingContext:           newVocab("grouping-context-ov", false, "suspicious-activity malware-analysis unspecified"),
		identityClass:             newVocab("identity-class-ov", false, "individual group system organization class unknown"),
		implementationLanguage:    newVocab("implementation-language-ov", false, "applescript bash c c++ c# go java javascript lua objective-c perl php powershell python ruby scala swift typescript visual-basic x86-32 x86-64"),
		indicatorType:             newVocab("indicator-type-ov", false, "anomalous-activity anonymization benign compromised malicious-activity attribution unknown"),
		industrySector:            newVocab("industry-sector-ov", false, "agriculture aerospace automotive chemical commercial communications construction defense education energy entertainment financial-services government government-emergency-services government-local government-national government-public-services government-regional healthcare hospitality-leisure infrastructure infrastructure-dams infrastructure-nuclear infrastructure-water insurance manufacturing mining non-profit pharmaceuticals retail technology telecommunications transportation utilities"),
		infrastructureType:        newVocab("infrastructure-type-ov", false, "amplification anonymization botnet command-and-control control-system exfiltration firewall hosting-malware hosting-target-lists phishing reconnaissance routers-switches staging workstation unknown"),
		malwareResult:             newVocab("malware-result-ov", false, "malicious suspicious benign unknown"),
		malwareCapabilities:       newVocab("malware-capabilities-ov", false, "accesses-remote-machines anti-debugging anti-disassembly anti-emulation anti-memory-forensics anti-sandbox anti-vm captures-input-peripherals captures-output-peripherals captures-system-state-data cleans-traces-of-infection commits-fraud communicates-with-c2 compromises-data-availability compromises-data-integrity compromises-system-availability controls-local-machine degrades-security-software degrades-system-updates determines-c2-server emails-spam escalates-privileges evades-av exfiltrates-data fingerprints-host hides-artifacts hides-executing-code infects-files infects-remote-machines installs-other-components persists-after-system-reboot prevents-artifact-access prevents-artifact-deletion probes-network-environment self-modifies steals-authentication-credentials violates-system-operational-integrity"),
		malwareType:               newVocab("malware-type-ov", false, "adware backdoor bot bootkit ddos downloader dropper exploit-kit keylogger ransomware remote-access-trojan resource-exploitation rogue-security-software rootkit screen-capture spyware trojan unknown virus webshell wiper worm"),
		patternType:               newVocab("pattern-type-ov", false, "stix pcre sigma snort suricata yara"),
		processorArchitecture:     newVocab("processor-architecture-ov", false, "alpha arm ia-64 mips powerpc sparc x86 x86-64"),
		region:                    newVocab("region-ov", false, "africa eastern-africa middle-africa northern-africa southern-africa western-africa americas caribbean central-america latin-america-caribbean northern-america south-america asia central-asia eastern-asia southern-asia south-eastern-asia western-asia europe eastern-europe northern-europe southern-europe western-europe oceania antarctica australia-new-zealand melanesia micronesia polynesia"),
		reportType:                newVocab("report-type-ov", false, "attack-pattern campaign identity indicator intrusion-set malware observed-data threat-actor threat-report tool vulnerability"),
		threatActorType:           newVocab("threat-actor-type-ov", false, "activist competitor crime-syndicate criminal hacker insider-accidental insider-disgruntled nation-state sensationalist spy terrorist unknown"),
		threatActorRole:           newVocab("threat-actor-role-ov", false, "agent director independent infrastructure-architect infrastructure-operator malware-author sponsor"),
		threatActorSophistication: newVocab("threat-actor-sophistication-ov", false, "none minimal intermediate advanced expert innovator strategic"),
		toolType:                  newVocab("tool-type-ov", false, "denial-of-service exploitation information-gathering network-capture credential-exploitation remote-access vulnerability-scanning unknown"),
		accountType:               newVocab("account-type-ov", false, "facebook ldap nis openid radius skype tacacs twitter unix windows-local windows-domain"),
		hashAlgorithm:             newVocab("hash-algorithm-ov", false, "MD5 SHA-1 SHA-256 SHA-512 SHA3-256 SHA3-512 SSDEEP TLSH"),
		peBinaryType:              newVocab("windows-pebinary-type-ov", false, "dll exe sys"),
		// The relationship types the spec defines across its SDO sections
		// and §5.1 (common relationships).
		relationshipType: newVocab("relationship type", false, "derived-from duplicate-of related-to delivers targets uses attributed-to compromises originates-from investigates remediates mitigates indicates based-on communicates-with consists-of controls has hosts owns authored-by beacons-to exfiltrates-to downloads drops exploits variant-of characterizes analysis-of static-analysis-of dynamic-analysis-of impersonates located-at"),

		// Enumerations, STIX 2.1 §10: closed.
		encryptionAlgorithm:   newVocab("encryption-algorithm-enum", true, "AES-256-GCM ChaCha20-Poly1305 mime-type-indicated"),
		extensionType:         newVocab("extension-type-enum", true, "new-sdo new-sco new-sro property-extension toplevel-property-extension"),
		socketAddressFamily:   newVocab("network-socket-address-family-enum", true, "AF_UNSPEC AF_INET AF_IPX AF_APPLETALK AF_NETBIOS AF_INET6 AF_IRDA AF_BTH"),
		socketType:            newVocab("network-socket-type-enum", true, "SOCK_STREAM SOCK_DGRAM SOCK_RAW SOCK_RDM SOCK_SEQPACKET"),
		opinion:               newVocab("opinion-enum", true, "strongly-disagree disagree neutral agree strongly-agree"),
		windowsIntegrityLevel: newVocab("windows-integrity-level-enum", true, "low medium high system"),
		registryDatatype:      newVocab("windows-registry-datatype-enum", true, "REG_NONE REG_SZ REG_EXPAND_SZ REG_BINARY REG_DWORD REG_DWORD_BIG_ENDIAN REG_DWORD_LITTLE_ENDIAN REG_LINK REG_MULTI_SZ REG_RESOURCE_LIST REG_FULL_RESOURCE_DESCRIPTION REG_RESOURCE_REQUIREMENTS_LIST REG_QWORD REG_INVALID_TYPE"),
		serviceStartType:      newVocab("windows-service-start-type-enum", true, "SERVICE_AUTO_START SERVICE_BOOT_START SERVICE_DEMAND_START SERVICE_DISABLED SERVICE_SYSTEM_ALERT"),
		serviceType:           newVocab("windows-service-type-enum", true, "SERVICE_KERNEL_DRIVER SERVICE_FILE_SYSTEM_DRIVER SERVICE_WIN32_OWN_PROCESS SERVICE_WIN32_SHARE_PROCESS"),
		serviceStatus:         newVocab("windows-service-status-enum", true, "SERVICE_CONTINUE_PENDING SERVICE_PAUSE_PENDING SERVICE_PAUSED SERVICE_RUNNING SERVICE_START_PENDING SERVICE_STOP_PENDING SERVICE_STOPPED"),
		tlpLevel:              newVocab("TLP level", true, "white green amber red"),
	}
}
