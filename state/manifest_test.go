package state

import (
	"fmt"
	"testing"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/zeebo/xxh3"
)

// The manifest decoder never panics and never accepts what it cannot re-encode.
func FuzzDecodeManifest(f *testing.F) {
	m := &Manifest{Version: ManifestVersion, Kind: "checkpoint", ID: 3, Job: JobOptions{MaxParallelism: 8},
		Files:     []FileEntry{{Path: "op-a/kg-0-8/t-v.arrow", Size: 10, XXH3: "0123456789abcdef"}},
		Sources:   []SourcePosition{{Source: "s", Split: "0", Position: []byte{1}}},
		Operators: []OperatorState{{ID: "a", Handles: []StateHandle{{KeyGroupStart: 0, KeyGroupEnd: 8, Format: FormatArrow, Files: []string{"op-a/kg-0-8/t-v.arrow"}}}}}}
	good, err := EncodeManifest(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte(manifestMagic + "{}\nxxh3 0000000000000000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			if rberr.KindOf(err) != rberr.Data {
				t.Fatalf("error of kind %v: %v", rberr.KindOf(err), err)
			}
			return
		}
		again, err := EncodeManifest(m)
		if err != nil {
			t.Fatalf("decoded manifest does not re-encode: %v", err)
		}
		if _, err := DecodeManifest(again); err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
	})
}

// Structure-aware: the JSON body is fuzzed under a valid header and checksum, so the fuzzer
// reaches the JSON decoder and the validation rules, not only the checksum check.
func FuzzDecodeManifestBody(f *testing.F) {
	m := &Manifest{Version: ManifestVersion, Kind: "savepoint", Job: JobOptions{MaxParallelism: 4, PlanFingerprint: "p"},
		Files:     []FileEntry{{Path: "op-a/kg-0-4/_timers.arrow", Size: 1, XXH3: "00000000000000ff"}},
		Operators: []OperatorState{{ID: "a", Handles: []StateHandle{{KeyGroupStart: 0, KeyGroupEnd: 4, Format: FormatTimers, Files: []string{"op-a/kg-0-4/_timers.arrow"}}}}}}
	good, err := EncodeManifest(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[len(manifestMagic) : len(good)-len("xxh3 0123456789abcdef\n")])
	f.Add([]byte(`{"version":1,"kind":"checkpoint","job":{"max_parallelism":2},"files":[{"path":"../x","size":1,"xxh3":"0000000000000000"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		data := append([]byte(manifestMagic), body...)
		data = append(data, '\n')
		data = append(data, []byte(fmt.Sprintf("xxh3 %016x\n", xxh3.Hash(data)))...)
		m, err := DecodeManifest(data)
		if err != nil {
			if rberr.KindOf(err) != rberr.Data {
				t.Fatalf("error of kind %v: %v", rberr.KindOf(err), err)
			}
			return
		}
		for _, fe := range m.Files {
			if checkRelPath(fe.Path) != nil {
				t.Fatalf("accepted a path outside the checkpoint: %q", fe.Path)
			}
		}
		again, err := EncodeManifest(m)
		if err != nil {
			t.Fatalf("decoded manifest does not re-encode: %v", err)
		}
		if _, err := DecodeManifest(again); err != nil {
			t.Fatalf("re-encoded manifest does not decode: %v", err)
		}
	})
}
