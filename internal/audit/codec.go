package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrNotCanonical is wrapped when a line parses as JSON but is not the exact
// bytes the log writes for the value it holds. The leaf hash covers the
// bytes, so the log accepts one encoding per value and nothing else: no
// added whitespace, reordered or unknown keys, or alternative escapes.
var ErrNotCanonical = errors.New("audit: line is not in canonical form")

// entryLine is one line of entries.jsonl: the entry's position in the log,
// then the entry's fields. Carrying the position in the hashed bytes is what
// lets a verifier name a dropped, duplicated or moved line exactly.
type entryLine struct {
	Seq uint64 `json:"seq"`
	Entry
}

// encodeEntryBody returns the canonical JSON of e, without the sequence
// number, which the writer adds once it knows the entry's position.
func encodeEntryBody(e Entry) ([]byte, error) {
	// encoding/json writes invalid UTF-8 as the escape \ufffd but writes a
	// real U+FFFD as its raw bytes, so a string with invalid UTF-8 would
	// not survive a round trip. Replacing it first keeps every line the log
	// writes canonical.
	valid := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	e.Actor, e.Org, e.Action = valid(e.Actor), valid(e.Org), valid(e.Action)
	e.Target, e.Outcome, e.Detail = valid(e.Target), valid(e.Outcome), valid(e.Detail)
	if e.IDs != nil {
		ids := make([]string, len(e.IDs))
		for i, id := range e.IDs {
			ids[i] = valid(id)
		}
		e.IDs = ids
	}
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("audit: encode entry: %w", err)
	}
	return b, nil
}

// appendLine appends the line for entry seq, whose body encodeEntryBody
// returned, and a newline. The result is byte for byte what json.Marshal
// gives for entryLine, because the embedded Entry's fields follow Seq.
func appendLine(buf []byte, seq uint64, body []byte) []byte {
	buf = append(buf, `{"seq":`...)
	buf = strconv.AppendUint(buf, seq, 10)
	buf = append(buf, ',')
	buf = append(buf, body[1:]...)
	return append(buf, '\n')
}

// ParseEntry parses one line of entries.jsonl (without its newline) and
// returns the entry's sequence number and the entry. It accepts only the
// canonical encoding the log writes, with the time in UTC.
func ParseEntry(line []byte) (seq uint64, e Entry, err error) {
	var v entryLine
	if err := json.Unmarshal(line, &v); err != nil {
		return 0, Entry{}, fmt.Errorf("audit: parse entry: %w", err)
	}
	if _, off := v.Time.Zone(); off != 0 {
		return 0, Entry{}, fmt.Errorf("%w: time %s is not in UTC", ErrNotCanonical, v.Time.Format(time.RFC3339Nano))
	}
	again, err := json.Marshal(v)
	if err != nil || !bytes.Equal(again, line) {
		return 0, Entry{}, ErrNotCanonical
	}
	return v.Seq, v.Entry, nil
}

// Checkpoint is a signed tree head in the style of a transparency log
// (RFC 6962 §3.5, RFC 9162 §4.10): the size and root of the tree at a
// moment, signed with the cell's ed25519 key. Anyone holding the cell's
// public key can check it, and then check any entry against it with an
// inclusion proof, and any later checkpoint with a consistency proof.
type Checkpoint struct {
	TreeSize  uint64
	RootHash  []byte
	Time      time.Time
	Signature []byte
}

// checkpointJSON is the wire form of a Checkpoint: one line of
// checkpoints.jsonl, and what the admin API serves.
type checkpointJSON struct {
	TreeSize  uint64    `json:"tree_size"`
	RootHash  string    `json:"root_hash"` // lower-case hex
	Time      time.Time `json:"time"`
	Signature string    `json:"signature"` // standard base64, padded
}

// checkpointContext separates what the cell key signs for the audit log
// from anything else it signs (federation provenance), so that no signature
// can be replayed from one use to the other.
const checkpointContext = "jointcell audit checkpoint v1\n"

// SignedMessage returns the bytes the signature covers: the context line,
// then the tree size in decimal, the root in lower-case hex and the time in
// RFC 3339 (UTC, nanoseconds trimmed as in the JSON), one per line.
func (c Checkpoint) SignedMessage() []byte {
	var b []byte
	b = append(b, checkpointContext...)
	b = strconv.AppendUint(b, c.TreeSize, 10)
	b = append(b, '\n')
	b = hex.AppendEncode(b, c.RootHash)
	b = append(b, '\n')
	b = c.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '\n')
}

// Verify checks the checkpoint's signature with the cell's public key.
func (c Checkpoint) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("audit: verify checkpoint: public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	if len(c.RootHash) != HashSize {
		return fmt.Errorf("audit: verify checkpoint: root hash is %d bytes, want %d", len(c.RootHash), HashSize)
	}
	if !ed25519.Verify(pub, c.SignedMessage(), c.Signature) {
		return errors.New("audit: verify checkpoint: signature does not verify with the cell's public key")
	}
	return nil
}

func signCheckpoint(key ed25519.PrivateKey, size uint64, root digest, at time.Time) Checkpoint {
	c := Checkpoint{TreeSize: size, RootHash: append([]byte(nil), root[:]...), Time: at.UTC()}
	c.Signature = ed25519.Sign(key, c.SignedMessage())
	return c
}

// MarshalJSON writes the checkpoint as {"tree_size", "root_hash" (hex),
// "time", "signature" (base64)}, the form of checkpoints.jsonl.
func (c Checkpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkpointJSON{
		TreeSize:  c.TreeSize,
		RootHash:  hex.EncodeToString(c.RootHash),
		Time:      c.Time.UTC(),
		Signature: base64.StdEncoding.EncodeToString(c.Signature),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Checkpoint) UnmarshalJSON(b []byte) error {
	var v checkpointJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	root, err := hex.DecodeString(v.RootHash)
	if err != nil || len(root) != HashSize {
		return fmt.Errorf("audit: checkpoint root_hash %q is not %d bytes of hex", v.RootHash, HashSize)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(v.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("audit: checkpoint signature is not %d bytes of base64", ed25519.SignatureSize)
	}
	*c = Checkpoint{TreeSize: v.TreeSize, RootHash: root, Time: v.Time, Signature: sig}
	return nil
}

// ParseCheckpoint parses one line of checkpoints.jsonl (without its
// newline). Like ParseEntry it accepts only the canonical encoding. It does
// not check the signature: call Verify.
func ParseCheckpoint(line []byte) (Checkpoint, error) {
	var c Checkpoint
	if err := json.Unmarshal(line, &c); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: parse checkpoint: %w", err)
	}
	if _, off := c.Time.Zone(); off != 0 {
		return Checkpoint{}, fmt.Errorf("%w: time %s is not in UTC", ErrNotCanonical, c.Time.Format(time.RFC3339Nano))
	}
	again, err := json.Marshal(c)
	if err != nil || !bytes.Equal(again, line) {
		return Checkpoint{}, ErrNotCanonical
	}
	return c, nil
}
