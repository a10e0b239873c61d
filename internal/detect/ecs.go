package detect

// ECSDecoder decodes Elastic Common Schema JSON lines, nested
// (`{"source":{"ip":...}}`) or flattened (`{"source.ip":...}`). The mapping
// to STIX is the table in docs/detection.md.
type ECSDecoder struct {
	w  walker
	ev Event
	// fn is rec.field, bound once: a method value made per line would
	// be an allocation per line.
	fn  func(path []byte, v leaf)
	rec ecsRecord
}

var _ Decoder = (*ECSDecoder)(nil)

type ecsRecord struct {
	ev       *Event
	timeOK   bool
	net      netTraffic
	file     fileObj
	cert     certObj
	dnsName  string
	answers  []string
	urlFull  string
	domains  [4]string
	nDomains int
	from     string
	to       []string
	subject  string
	procName string
	procCmd  string
	pid      int64
	hasPID   bool
	userName string
	userID   string
	srcMAC   string
	dstMAC   string
}

func (r *ecsRecord) reset(ev *Event) {
	answers, to := r.answers[:0], r.to[:0]
	*r = ecsRecord{ev: ev, answers: answers, to: to}
}

func (r *ecsRecord) domain(d string) {
	if d != "" && r.nDomains < len(r.domains) {
		r.domains[r.nDomains] = d
		r.nDomains++
	}
}

// Decode implements Decoder.
func (d *ECSDecoder) Decode(rec []byte, emit func(*Event)) error {
	d.ev.Reset()
	r := &d.rec
	r.reset(&d.ev)
	if d.fn == nil {
		d.fn = r.field
	}
	if err := d.w.walkRecord(rec, d.fn); err != nil {
		return err
	}
	if !r.timeOK {
		return ErrNoTime
	}
	ev := &d.ev
	if r.dnsName != "" {
		dnsAnswers(ev, r.dnsName, r.answers)
	}
	if r.urlFull != "" {
		ev.value("url", r.urlFull)
	}
	for _, dn := range r.domains[:r.nDomains] {
		ev.value("domain-name", dn)
	}
	r.net.build(ev)
	r.file.build(ev)
	r.cert.build(ev)
	if r.from != "" || len(r.to) > 0 || r.subject != "" {
		m := ev.add("email-message")
		// is_multipart is required (STIX 2.1 §6.8); a log line says
		// nothing about MIME structure, so false.
		ev.Objects[m].Props = append(ev.Objects[m].Props, Prop{Path: "is_multipart", Kind: KindBool})
		if r.from != "" {
			f := ev.value("email-addr", r.from)
			ev.setRef(m, "from_ref", f)
		}
		for _, t := range r.to {
			ev.addRefs(m, "to_refs", ev.value("email-addr", t))
		}
		if r.subject != "" {
			ev.setStr(m, "subject", r.subject)
		}
	}
	if r.procName != "" || r.procCmd != "" || r.hasPID {
		img := -1
		if r.procName != "" {
			img = ev.add("file")
			ev.setStr(img, "name", r.procName)
		}
		p := ev.add("process")
		if r.hasPID && r.pid >= 0 {
			ev.setInt(p, "pid", r.pid)
		}
		if r.procCmd != "" {
			ev.setStr(p, "command_line", r.procCmd)
		}
		if img >= 0 {
			ev.setRef(p, "image_ref", img)
		}
	}
	if r.userName != "" || r.userID != "" {
		u := ev.add("user-account")
		if r.userName != "" {
			ev.setStr(u, "account_login", r.userName)
		}
		if r.userID != "" {
			ev.setStr(u, "user_id", r.userID)
		}
	}
	if r.srcMAC != "" {
		ev.value("mac-addr", r.srcMAC)
	}
	if r.dstMAC != "" {
		ev.value("mac-addr", r.dstMAC)
	}
	if len(ev.Objects) == 0 {
		return ErrEmpty
	}
	emit(ev)
	return nil
}

// field receives every leaf of the line. The switch on string(path) does
// not allocate.
func (r *ecsRecord) field(path []byte, v leaf) {
	if v.kind == jsonNull {
		return
	}
	s := v.s
	switch string(path) {
	case "@timestamp":
		r.ev.Time, r.timeOK = parseTime(v)
	case "source.ip", "client.ip":
		if r.net.srcIP == "" {
			r.net.srcIP = s
		}
	case "destination.ip", "server.ip":
		if r.net.dstIP == "" {
			r.net.dstIP = s
		}
	case "source.port", "client.port":
		r.net.srcPort, r.net.hasSrc = leafInt(v)
	case "destination.port", "server.port":
		r.net.dstPort, r.net.hasDst = leafInt(v)
	case "network.transport", "network.protocol", "network.type":
		r.net.proto(s)
	case "source.domain", "destination.domain", "url.domain", "client.domain", "server.domain", "tls.client.server_name":
		r.domain(s)
	case "dns.question.name":
		r.dnsName = s
	case "dns.answers.data", "dns.resolved_ip":
		if len(r.answers) < 32 {
			r.answers = append(r.answers, s)
		}
	case "url.full", "url.original":
		if r.urlFull == "" && v.kind == jsonString {
			r.urlFull = s
		}
	case "url.path":
		r.net.reqValue = s
	case "http.request.method":
		r.net.method = s
	case "user_agent.original":
		r.net.userAgent = s
	case "file.hash.md5":
		r.file.md5 = s
	case "file.hash.sha1":
		r.file.sha1 = s
	case "file.hash.sha256":
		r.file.sha256 = s
	case "file.hash.sha512":
		r.file.sha512 = s
	case "file.name":
		r.file.name = s
	case "file.size":
		r.file.size, r.file.hasSize = leafInt(v)
	case "file.mime_type":
		r.file.mime = s
	case "email.from.address":
		r.from = s
	case "email.to.address":
		if len(r.to) < 32 {
			r.to = append(r.to, s)
		}
	case "email.subject":
		r.subject = s
	case "tls.server.ja3s":
		r.net.ja3s = s
	case "tls.client.ja3":
		r.net.ja3 = s
	case "tls.server.x509.subject.distinguished_name":
		r.cert.subject = s
	case "tls.server.x509.issuer.distinguished_name":
		r.cert.issuer = s
	case "tls.server.x509.serial_number":
		r.cert.serial = s
	case "tls.server.hash.sha256":
		r.cert.sha256 = s
	case "tls.server.hash.sha1":
		r.cert.sha1 = s
	case "tls.server.hash.md5":
		r.cert.md5 = s
	case "process.name":
		r.procName = s
	case "process.command_line":
		r.procCmd = s
	case "process.pid":
		r.pid, r.hasPID = leafInt(v)
	case "user.name":
		r.userName = s
	case "user.id":
		r.userID = s
	case "source.mac":
		r.srcMAC = s
	case "destination.mac":
		r.dstMAC = s
	}
}
