package detect

// ZeekDecoder decodes Zeek logs written as JSON lines (LogAscii::use_json):
// conn, dns, http, files, ssl and x509. Fields of all six logs have distinct
// names, so one decoder reads them all without looking at `_path`. `ts` is
// epoch seconds (a number, Zeek's default) or an ISO 8601 string
// (LogAscii::json_timestamps = JSON::TS_ISO8601).
type ZeekDecoder struct {
	w  walker
	ev Event
	// fn is rec.field, bound once: a method value made per line would
	// be an allocation per line.
	fn  func(path []byte, v leaf)
	rec zeekRecord
}

var _ Decoder = (*ZeekDecoder)(nil)

type zeekRecord struct {
	flowRecord
	uri string // the HTTP request path, logged apart from the Host header
}

// Decode implements Decoder.
func (d *ZeekDecoder) Decode(rec []byte, emit func(*Event)) error {
	d.ev.Reset()
	r := &d.rec
	answers := r.answers[:0]
	*r = zeekRecord{flowRecord: flowRecord{ev: &d.ev, answers: answers}}
	if d.fn == nil {
		d.fn = r.field
	}
	if err := d.w.walkRecord(rec, d.fn); err != nil {
		return err
	}
	if !r.timeOK {
		return ErrNoTime
	}
	// Zeek logs the Host header and the path apart; the URL is rebuilt
	// from them (http, since Zeek only sees cleartext HTTP).
	var url string
	if r.host != "" && r.uri != "" {
		url = "http://" + r.host + r.uri
	}
	return r.finish(url, emit)
}

func (r *zeekRecord) field(path []byte, v leaf) {
	if v.kind == jsonNull {
		return
	}
	s := v.s
	switch string(path) {
	case "ts":
		r.ev.Time, r.timeOK = parseTime(v)
	case "id.orig_h", "tx_hosts":
		if r.net.srcIP == "" {
			r.net.srcIP = s
		}
	case "id.resp_h", "rx_hosts":
		if r.net.dstIP == "" {
			r.net.dstIP = s
		}
	case "id.orig_p":
		r.net.srcPort, r.net.hasSrc = leafInt(v)
	case "id.resp_p":
		r.net.dstPort, r.net.hasDst = leafInt(v)
	case "proto", "service":
		r.net.proto(s)
	case "query":
		r.query = s
	case "answers":
		if len(r.answers) < 32 {
			r.answers = append(r.answers, s)
		}
	case "host":
		r.host = s
	case "uri":
		r.uri = s
		r.net.reqValue = s
	case "method":
		r.net.method = s
	case "user_agent":
		r.net.userAgent = s
	case "md5":
		r.file.md5 = s
	case "sha1":
		r.file.sha1 = s
	case "sha256":
		r.file.sha256 = s
	case "filename":
		r.file.name = s
	case "mime_type":
		r.file.mime = s
	case "total_bytes", "seen_bytes":
		if !r.file.hasSize {
			r.file.size, r.file.hasSize = leafInt(v)
		}
	case "server_name":
		r.sni = s
	case "ja3":
		r.net.ja3 = s
	case "ja3s":
		r.net.ja3s = s
	case "subject", "certificate.subject":
		r.cert.subject = s
	case "issuer", "certificate.issuer":
		r.cert.issuer = s
	case "certificate.serial":
		r.cert.serial = s
	case "fingerprint":
		r.cert.fingerprint(s)
	}
}
