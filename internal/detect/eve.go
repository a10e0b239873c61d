package detect

// EVEDecoder decodes Suricata EVE JSON lines of event types flow, netflow,
// dns (versions 1 to 3: `dns.rrname`, `dns.queries[].rrname`,
// `dns.answers[].rdata`), http, tls, fileinfo and alert. Every EVE record
// carries the flow's addresses, so each one yields a network-traffic object.
type EVEDecoder struct {
	w  walker
	ev Event
	// fn is rec.field, bound once: a method value made per line would
	// be an allocation per line.
	fn  func(path []byte, v leaf)
	rec eveRecord
}

var _ Decoder = (*EVEDecoder)(nil)

type eveRecord struct {
	flowRecord
	url string // http.url: a path, or a full URL behind a proxy
}

// Decode implements Decoder.
func (d *EVEDecoder) Decode(rec []byte, emit func(*Event)) error {
	d.ev.Reset()
	r := &d.rec
	answers := r.answers[:0]
	*r = eveRecord{flowRecord: flowRecord{ev: &d.ev, answers: answers}}
	if d.fn == nil {
		d.fn = r.field
	}
	if err := d.w.walkRecord(rec, d.fn); err != nil {
		return err
	}
	if !r.timeOK {
		return ErrNoTime
	}
	url := r.url
	if r.host != "" && len(url) > 0 && url[0] == '/' {
		url = "http://" + r.host + url
	}
	return r.finish(url, emit)
}

func (r *eveRecord) field(path []byte, v leaf) {
	if v.kind == jsonNull {
		return
	}
	s := v.s
	switch string(path) {
	case "timestamp":
		r.ev.Time, r.timeOK = parseTime(v)
	case "src_ip":
		r.net.srcIP = s
	case "dest_ip":
		r.net.dstIP = s
	case "src_port":
		r.net.srcPort, r.net.hasSrc = leafInt(v)
	case "dest_port":
		r.net.dstPort, r.net.hasDst = leafInt(v)
	case "proto", "app_proto":
		if s != "failed" {
			r.net.proto(s)
		}
	case "dns.rrname", "dns.queries.rrname":
		if r.query == "" {
			r.query = s
		}
	case "dns.rdata", "dns.answers.rdata":
		if len(r.answers) < 32 {
			r.answers = append(r.answers, s)
		}
	case "http.hostname":
		r.host = s
	case "http.url":
		r.url = s
		r.net.reqValue = s
	case "http.http_user_agent":
		r.net.userAgent = s
	case "http.http_method":
		r.net.method = s
	case "tls.sni":
		r.sni = s
	case "tls.ja3.hash":
		r.net.ja3 = s
	case "tls.ja3s.hash":
		r.net.ja3s = s
	case "tls.subject":
		r.cert.subject = s
	case "tls.issuerdn":
		r.cert.issuer = s
	case "tls.serial":
		r.cert.serial = s
	case "tls.fingerprint":
		r.cert.fingerprint(s)
	case "fileinfo.filename":
		r.file.name = s
	case "fileinfo.md5":
		r.file.md5 = s
	case "fileinfo.sha1":
		r.file.sha1 = s
	case "fileinfo.sha256":
		r.file.sha256 = s
	case "fileinfo.size":
		r.file.size, r.file.hasSize = leafInt(v)
	case "fileinfo.magic":
		// magic is libmagic's description, not a MIME type; not mapped.
	}
}
