package stix

import (
	"embed"
	"fmt"
)

// The built-in marking definitions, embedded byte for byte as OASIS
// publishes them: TLP 1.0 from STIX 2.1 §7.2.1.4, TLP 2.0 from the
// cti-stix-common-objects repository (extension-definition
// --60a3c5c5-0d10-413e-aab3-9e08dde9e88d), where each is a one-object
// bundle.
//
//go:embed markings/*.json
var markingFiles embed.FS

// Identifiers of the built-in TLP marking definitions.
const (
	TLP1White       = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
	TLP1Green       = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
	TLP1Amber       = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
	TLP1Red         = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"
	TLP2Clear       = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
	TLP2Green       = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
	TLP2Amber       = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
	TLP2AmberStrict = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
	TLP2Red         = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
)

// markingOrder fixes the order BuiltinMarkings returns.
var markingOrder = []string{
	"tlp1-white.json", "tlp1-green.json", "tlp1-amber.json", "tlp1-red.json",
	"tlp2-clear.json", "tlp2-green.json", "tlp2-amber.json", "tlp2-amber-strict.json", "tlp2-red.json",
}

// BuiltinMarkings returns the four TLP 1.0 and five TLP 2.0 marking
// definitions, in that order. Each call returns fresh values; Raw is the
// exact published bytes of the object.
func BuiltinMarkings() []Object {
	out := make([]Object, 0, len(markingOrder))
	for _, name := range markingOrder {
		data, err := markingFiles.ReadFile("markings/" + name)
		if err != nil {
			panic(fmt.Sprintf("stix: embedded marking %s: %v", name, err))
		}
		objs, err := Decode(data)
		if err != nil || len(objs) != 1 {
			panic(fmt.Sprintf("stix: embedded marking %s does not decode: %v", name, err))
		}
		out = append(out, objs[0])
	}
	return out
}
