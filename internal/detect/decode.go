package detect

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Format names an input format.
type Format string

// Supported input formats.
const (
	FormatSTIX Format = "stix" // STIX 2.1 observed-data: bundles or objects, one per line
	FormatECS  Format = "ecs"  // Elastic Common Schema JSON lines
	FormatZeek Format = "zeek" // Zeek JSON logs (conn, dns, http, files, ssl, x509)
	FormatEVE  Format = "eve"  // Suricata EVE JSON (flow, dns, http, tls, fileinfo, alert)
)

// ParseFormat checks a format name from the command line.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatSTIX, FormatECS, FormatZeek, FormatEVE:
		return f, nil
	}
	return "", fmt.Errorf("detect: unknown event format %q (want stix, ecs, zeek or eve)", s)
}

// Decoder turns one input record (a line) into events. A decoder keeps
// scratch buffers and is not safe for concurrent use: give each worker its
// own. emit may be called several times (a STIX bundle holds several
// observed-data objects) and must not keep ev after it returns. The
// telemetry decoders do not copy the record: the event's strings may be
// parts of rec itself, so rec must not change until Decode returns, and
// whatever is kept of an event must be copied (the index copies what its
// windows keep, the aggregator renders what it keeps as JSON).
type Decoder interface {
	Decode(rec []byte, emit func(ev *Event)) error
}

// NewDecoder returns a decoder for f.
func NewDecoder(f Format) (Decoder, error) {
	switch f {
	case FormatECS:
		return &ECSDecoder{}, nil
	case FormatZeek:
		return &ZeekDecoder{}, nil
	case FormatEVE:
		return &EVEDecoder{}, nil
	case FormatSTIX:
		return &STIXDecoder{}, nil
	}
	return nil, fmt.Errorf("detect: unknown event format %q", f)
}

// ErrNoTime is returned for an event without a usable time field: events
// are timestamped from their own time, never from arrival, so that windows
// and first_seen/last_seen describe the activity, not the pipeline.
var ErrNoTime = errors.New("detect: event has no valid time field")

// ErrEmpty is returned for an event from which no observable was decoded.
// It is counted apart from malformed lines: the line was fine, it just holds
// nothing to match (e.g. a Zeek weird.log line).
var ErrEmpty = errors.New("detect: event holds no observable")

// parseTime accepts RFC 3339 with or without fraction and zone, the
// Suricata form with a numeric zone without colon
// ("2009-11-24T21:27:09.534255+0100"), and epoch seconds as a JSON number
// (Zeek's default `ts`).
func parseTime(v leaf) (time.Time, bool) {
	switch v.kind {
	case jsonNumber:
		f, err := strconv.ParseFloat(v.s, 64)
		if err != nil || f < 0 || f > 1e11 || math.IsNaN(f) {
			return time.Time{}, false
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), true
	case jsonString:
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, v.s); err == nil {
				return t.UTC(), true
			}
		}
		if f, err := strconv.ParseFloat(v.s, 64); err == nil && f >= 0 && f < 1e11 {
			sec, frac := math.Modf(f)
			return time.Unix(int64(sec), int64(math.Round(frac*1e6))*1e3).UTC(), true
		}
	}
	return time.Time{}, false
}

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// leafInt returns an integer leaf (a JSON number, or a string of digits as
// some shippers write ports).
func leafInt(v leaf) (int64, bool) {
	if v.kind != jsonNumber && v.kind != jsonString {
		return 0, false
	}
	n, err := strconv.ParseInt(v.s, 10, 64)
	return n, err == nil
}

// netTraffic collects the fields of a network connection shared by the
// three telemetry formats and builds the network-traffic object with its
// address references (STIX 2.1 §6.12).
type netTraffic struct {
	srcIP, dstIP     string
	srcPort, dstPort int64
	hasSrc, hasDst   bool
	protos           [4]string
	nProtos          int
	// HTTP request (http-request-ext, STIX 2.1 §6.12.2).
	method, reqValue, userAgent, host string
	// Custom TLS fingerprints; STIX has no property for JA3/JA3S, so they
	// are the custom properties x_jointcell_ja3 and x_jointcell_ja3s (STIX
	// 2.1 §11.1 custom properties).
	ja3, ja3s string
}

func (n *netTraffic) proto(p string) {
	if p == "" || n.nProtos == len(n.protos) {
		return
	}
	p = lower(p)
	for _, q := range n.protos[:n.nProtos] {
		if q == p {
			return
		}
	}
	n.protos[n.nProtos] = p
	n.nProtos++
}

// build adds the network-traffic object when the event has one. STIX 2.1
// §6.12 requires src_ref or dst_ref... at least one of them, and protocols.
func (n *netTraffic) build(ev *Event) {
	if n.srcIP == "" && n.dstIP == "" {
		return
	}
	src, dst := -1, -1
	if n.srcIP != "" {
		src = ev.value(ipType(n.srcIP), n.srcIP)
	}
	if n.dstIP != "" {
		dst = ev.value(ipType(n.dstIP), n.dstIP)
	}
	t := ev.add("network-traffic")
	if src >= 0 {
		ev.setRef(t, "src_ref", src)
	}
	if dst >= 0 {
		ev.setRef(t, "dst_ref", dst)
	}
	if n.hasSrc && n.srcPort >= 0 && n.srcPort <= 65535 {
		ev.setInt(t, "src_port", n.srcPort)
	}
	if n.hasDst && n.dstPort >= 0 && n.dstPort <= 65535 {
		ev.setInt(t, "dst_port", n.dstPort)
	}
	if n.nProtos == 0 {
		// protocols is required; "ipv4"/"ipv6" is the least we know.
		if ipType(n.srcIP+n.dstIP) == "ipv6-addr" {
			n.proto("ipv6")
		} else {
			n.proto("ipv4")
		}
	}
	for _, p := range n.protos[:n.nProtos] {
		ev.addStrings(t, "protocols", p)
	}
	if n.userAgent != "" || n.method != "" || n.reqValue != "" {
		// request_method and request_value are required by the extension;
		// when the log does not have them they default to GET and "/".
		m, rv := n.method, n.reqValue
		if m == "" {
			m = "GET"
		}
		if rv == "" {
			rv = "/"
		}
		ev.setStr(t, "extensions.'http-request-ext'.request_method", lower(m))
		ev.setStr(t, "extensions.'http-request-ext'.request_value", rv)
		if n.userAgent != "" {
			ev.setStr(t, "extensions.'http-request-ext'.request_header.'User-Agent'", n.userAgent)
		}
		if n.host != "" {
			ev.setStr(t, "extensions.'http-request-ext'.request_header.Host", n.host)
		}
	}
	if n.ja3 != "" {
		ev.setStr(t, "x_jointcell_ja3", n.ja3)
	}
	if n.ja3s != "" {
		ev.setStr(t, "x_jointcell_ja3s", n.ja3s)
	}
}

// lower is strings.ToLower without an allocation for the protocol and
// method names logs write in capitals.
func lower(s string) string {
	switch s {
	case "GET":
		return "get"
	case "POST":
		return "post"
	case "HEAD":
		return "head"
	case "PUT":
		return "put"
	case "TCP":
		return "tcp"
	case "UDP":
		return "udp"
	case "ICMP":
		return "icmp"
	}
	return strings.ToLower(s)
}

// fileObj collects file properties (STIX 2.1 §6.7).
type fileObj struct {
	md5, sha1, sha256, sha512, name, mime string
	size                                  int64
	hasSize                               bool
}

func (f *fileObj) build(ev *Event) int {
	if f.md5 == "" && f.sha1 == "" && f.sha256 == "" && f.sha512 == "" && f.name == "" {
		return -1
	}
	i := ev.add("file")
	if f.md5 != "" {
		ev.setStr(i, "hashes.MD5", f.md5)
	}
	if f.sha1 != "" {
		ev.setStr(i, "hashes.'SHA-1'", f.sha1)
	}
	if f.sha256 != "" {
		ev.setStr(i, "hashes.'SHA-256'", f.sha256)
	}
	if f.sha512 != "" {
		ev.setStr(i, "hashes.'SHA-512'", f.sha512)
	}
	if f.name != "" {
		ev.setStr(i, "name", f.name)
	}
	if f.hasSize && f.size >= 0 {
		ev.setInt(i, "size", f.size)
	}
	if f.mime != "" {
		ev.setStr(i, "mime_type", f.mime)
	}
	return i
}

// certObj collects x509-certificate properties (STIX 2.1 §6.18).
type certObj struct {
	subject, issuer, serial, sha1, sha256, md5 string
}

func (c *certObj) build(ev *Event) {
	if c.subject == "" && c.issuer == "" && c.serial == "" && c.sha1 == "" && c.sha256 == "" && c.md5 == "" {
		return
	}
	i := ev.add("x509-certificate")
	if c.md5 != "" {
		ev.setStr(i, "hashes.MD5", c.md5)
	}
	if c.sha1 != "" {
		ev.setStr(i, "hashes.'SHA-1'", c.sha1)
	}
	if c.sha256 != "" {
		ev.setStr(i, "hashes.'SHA-256'", c.sha256)
	}
	if c.subject != "" {
		ev.setStr(i, "subject", c.subject)
	}
	if c.issuer != "" {
		ev.setStr(i, "issuer", c.issuer)
	}
	if c.serial != "" {
		ev.setStr(i, "serial_number", c.serial)
	}
}

// fingerprint files a certificate fingerprint under the hash its length
// says it is, removing the colons Suricata writes between bytes.
func (c *certObj) fingerprint(s string) {
	s = strings.ToLower(strings.ReplaceAll(s, ":", ""))
	switch len(s) {
	case 32:
		c.md5 = s
	case 40:
		c.sha1 = s
	case 64:
		c.sha256 = s
	}
}

// isIP reports whether s looks like an address literal, to tell DNS answers
// that are addresses from those that are names.
func isIP(s string) bool {
	if s == "" {
		return false
	}
	if strings.IndexByte(s, ':') >= 0 {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if !(c == ':' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
				return false
			}
		}
		return true
	}
	dots := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			dots++
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return dots == 3
}

// flowRecord is what Zeek and Suricata EVE records describe alike: a flow,
// a file, a certificate, a DNS query and its answers, an HTTP host and a
// TLS server name. Each decoder fills it from its own field names; finish
// turns it into observables.
type flowRecord struct {
	ev      *Event
	timeOK  bool
	net     netTraffic
	file    fileObj
	cert    certObj
	query   string
	answers []string
	host    string
	sni     string
}

// finish adds the record's observables to its event, url being the full
// URL of an HTTP request ("" for none, kept only with a host), and emits
// the event; a record that described nothing is ErrEmpty.
func (r *flowRecord) finish(url string, emit func(*Event)) error {
	ev := r.ev
	dnsAnswers(ev, r.query, r.answers)
	if r.host != "" {
		ev.value("domain-name", r.host)
		if url != "" {
			ev.value("url", url)
		}
		r.net.host = r.host
	}
	if r.sni != "" {
		ev.value("domain-name", r.sni)
	}
	r.net.build(ev)
	r.file.build(ev)
	r.cert.build(ev)
	if len(ev.Objects) == 0 {
		return ErrEmpty
	}
	emit(ev)
	return nil
}

// dnsAnswers adds the answers of a DNS query as the domain-name's
// resolves_to_refs (STIX 2.1 §6.4).
func dnsAnswers(ev *Event, name string, answers []string) {
	if name == "" {
		return
	}
	d := ev.value("domain-name", name)
	for _, a := range answers {
		var t int
		if isIP(a) {
			t = ev.value(ipType(a), a)
		} else if a != "" && a != name {
			t = ev.value("domain-name", a)
		} else {
			continue
		}
		ev.addRefs(d, "resolves_to_refs", t)
	}
}
