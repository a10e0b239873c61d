package federation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jointcell/jointcell/internal/stix"
)

const indicator = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
 "created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"bad, \u00e9vil","pattern":"[ipv4-addr:value = '198.51.100.1']",
 "pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z","confidence":50}`

const withExtension = `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
 "created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']",
 "pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z",
 "extensions":{"extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e":{"extension_type":"property-extension","rank":5}}}`

func testKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func keys(ks ...ed25519.PrivateKey) func(string) (ed25519.PublicKey, bool) {
	return func(fp string) (ed25519.PublicKey, bool) {
		for _, k := range ks {
			pub := k.Public().(ed25519.PublicKey)
			if Fingerprint(pub) == fp {
				return pub, true
			}
		}
		return nil, false
	}
}

func TestSignVerify(t *testing.T) {
	a, b := testKey(1), testKey(2)
	for _, in := range []string{indicator, withExtension} {
		signed, err := Sign([]byte(in), a, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
		if err != nil {
			t.Fatal(err)
		}
		o, err := stix.DecodeObject(signed)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range stix.Validate(o, stix.Options{}) {
			if p.Severity == stix.Error {
				t.Errorf("signed object is not valid STIX: %s", p)
			}
		}
		// Signing is deterministic: the same version signed twice (two
		// paths) is the same bytes, so the store sees a duplicate.
		again, err := Sign(signed, a, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
		if err != nil || !bytes.Equal(again, signed) {
			t.Fatalf("re-signing changed the bytes:\n%s\n%s", signed, again)
		}
		if strings.Contains(in, "rank") && !bytes.Contains(signed, []byte(`"rank":5`)) {
			t.Fatal("signing lost another extension")
		}
		tampered := bytes.Replace(signed, []byte("198.51.100.1"), []byte("198.51.100.2"), 1)
		resignedByB, err := Sign(signed, b, "")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name string
			raw  []byte
			keys func(string) (ed25519.PublicKey, bool)
			want error
		}{
			{"good", signed, keys(a), nil},
			{"good among several", signed, keys(b, a), nil},
			{"unknown signer", signed, keys(b), ErrUnknownSigner},
			{"tampered", tampered, keys(a), ErrBadSignature},
			{"unsigned", []byte(in), keys(a), ErrUnsigned},
			{"re-signed by another cell", resignedByB, keys(a), ErrUnknownSigner},
			{"duplicate member", append([]byte(`{"id":"x",`), signed[1:]...), keys(a), ErrMalformed},
			{"not an object", []byte(`[1]`), keys(a), ErrMalformed},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				sig, err := Verify(tt.raw, tt.keys)
				if !errors.Is(err, tt.want) {
					t.Fatalf("Verify: %v, want %v", err, tt.want)
				}
				if err == nil && sig.Cell != Fingerprint(a.Public().(ed25519.PublicKey)) {
					t.Fatalf("signed by %s", sig.Cell)
				}
			})
		}
	}
}

func TestVerifySurvivesReserialisation(t *testing.T) {
	a := testKey(1)
	signed, err := Sign([]byte(indicator), a, "")
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(signed, &v); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	if _, err := Verify(pretty, keys(a)); err != nil {
		t.Fatalf("re-serialised object does not verify: %v", err)
	}
}

func TestToken(t *testing.T) {
	a, b := testKey(1), testKey(2)
	sealed, err := SealToken(a, "s3cret-token")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cret")) {
		t.Fatal("token stored in clear")
	}
	if got, err := OpenToken(a, sealed); err != nil || got != "s3cret-token" {
		t.Fatalf("OpenToken = %q, %v", got, err)
	}
	if _, err := OpenToken(b, sealed); err == nil {
		t.Fatal("another cell's key opened the token")
	}
	if _, err := OpenToken(a, sealed[:5]); err == nil {
		t.Fatal("a truncated token opened")
	}
}

// FuzzVerify feeds untrusted objects (what peers send) to Verify: it must
// never panic, and whatever verifies must verify again after signing.
func FuzzVerify(f *testing.F) {
	a := testKey(1)
	signed, _ := Sign([]byte(indicator), a, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
	for _, s := range [][]byte{[]byte(indicator), []byte(withExtension), signed, []byte(`{}`), []byte(`{"extensions":{}}`),
		[]byte(`{"extensions":{"` + Extension + `":{"cell":1}}}`), []byte(`{"extensions":[]}`)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := Verify(raw, keys(a))
		if err != nil && !errors.Is(err, ErrUnsigned) && !errors.Is(err, ErrMalformed) &&
			!errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		out, err := Sign(raw, a, "")
		if err != nil {
			return
		}
		if _, err := Verify(out, keys(a)); err != nil {
			t.Fatalf("signed output does not verify: %v\n%s", err, out)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	k := testKey(1)
	for b.Loop() {
		if _, err := Sign([]byte(indicator), k, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := testKey(1)
	signed, err := Sign([]byte(indicator), k, "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Verify(signed, keys(k)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSignBatch(t *testing.T) {
	a, b := testKey(1), testKey(2)
	for _, n := range []int{1, 2, 3, 5, 8, 13, 33} {
		raws := make([][]byte, n)
		for i := range raws {
			raws[i] = []byte(strings.Replace(indicator, "198.51.100.1", "198.51.100."+string(rune('a'+i%26))+strings.Repeat("x", i), 1))
		}
		raws[0] = []byte(withExtension)
		out, errs := SignBatch(raws, a, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
		for i, o := range out {
			if errs[i] != nil {
				t.Fatalf("n=%d: %v", n, errs[i])
			}
			if _, err := Verify(o, keys(a)); err != nil {
				t.Fatalf("n=%d, object %d: %v\n%s", n, i, err, o)
			}
			if _, err := Verify(o, keys(b)); !errors.Is(err, ErrUnknownSigner) {
				t.Fatalf("n=%d: verified with another key: %v", n, err)
			}
			if tampered := bytes.Replace(o, []byte("198.51.100."), []byte("198.51.101."), 1); !errors.Is(mustFail(tampered, a), ErrBadSignature) {
				t.Fatalf("n=%d, object %d: tampered object verifies", n, i)
			}
			single, err := Sign(o, a, "")
			if err != nil || !sameContent(single, o) {
				t.Fatalf("n=%d: batch and single signatures differ in content: %v", n, err)
			}
		}
		if n > 1 {
			// Another object's proof does not fit.
			var e0, e1 map[string]any
			_ = json.Unmarshal(out[0], &e0)
			_ = json.Unmarshal(out[1], &e1)
			e0["extensions"].(map[string]any)[Extension].(map[string]any)["batch_index"] = 1
			swapped, _ := json.Marshal(e0)
			if !errors.Is(mustFail(swapped, a), ErrBadSignature) {
				t.Fatalf("n=%d: a wrong index verifies", n)
			}
		}
	}
	out, errs := SignBatch([][]byte{[]byte(`[1]`), []byte(indicator)}, a, "")
	if errs[0] == nil || out[0] != nil || errs[1] != nil {
		t.Fatalf("SignBatch with a bad object: %v", errs)
	}
	if _, err := Verify(out[1], keys(a)); err != nil {
		t.Fatal(err)
	}
}

func mustFail(raw []byte, k ed25519.PrivateKey) error {
	_, err := Verify(raw, keys(k))
	return err
}

func BenchmarkSignBatch(b *testing.B) {
	k := testKey(1)
	raws := make([][]byte, 1000)
	for i := range raws {
		raws[i] = []byte(indicator)
	}
	for b.Loop() {
		SignBatch(raws, k, "identity--3c1a0f7e-4a5b-4c6d-8e9f-0a1b2c3d4e5f")
	}
	b.ReportMetric(float64(b.N*len(raws))/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkVerifyBatch(b *testing.B) {
	k := testKey(1)
	raws := make([][]byte, 1000)
	for i := range raws {
		raws[i] = []byte(indicator)
	}
	signed, _ := SignBatch(raws, k, "")
	i := 0
	var v Verifier
	for b.Loop() {
		if _, err := v.Verify(signed[i%len(signed)], keys(k)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
