package batch

import (
	"path/filepath"
	"testing"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// fuzzText reads body as a file of the format: inference and reading never panic, every
// failure is an rberr error of a known kind naming the file, the batches are valid Arrow
// (readText validates them), no memory leaks, and reading from the position after the
// first row gives the rest of the rows.
func fuzzText(t *testing.T, name string, opts TextOptions, body []byte) {
	dir := t.TempDir()
	p := writeFile(t, dir, name, string(body))
	d, err := OpenText([]string{p}, opts)
	if err != nil {
		checkTextErr(t, err, p)
		return
	}
	all, _, err := readText(t, d, 0, 3, 0)
	if err != nil {
		checkTextErr(t, err, p)
		return
	}
	if len(all) > 0 {
		rest, _, err := readText(t, d, 0, 3, 1)
		if err != nil {
			t.Fatalf("read in full, but from row 1: %v", err)
		}
		if len(rest) != len(all)-1 {
			t.Fatalf("%d rows from row 1, want %d", len(rest), len(all)-1)
		}
		for i := range rest {
			if rest[i] != all[i+1] {
				t.Fatalf("row %d differs read from row 1: %q, %q", i+1, rest[i], all[i+1])
			}
		}
	}
}

func checkTextErr(t *testing.T, err error, path string) {
	switch rberr.KindOf(err) {
	case rberr.Data, rberr.Schema, rberr.Type:
	default:
		t.Fatalf("unexpected error kind %v: %v", rberr.KindOf(err), err)
	}
	if want := filepath.Base(path); !containsStr(err.Error(), want) {
		t.Fatalf("error does not name the file %q: %v", want, err)
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a,b\r\n1,\"x,\"\"y\"\"\"\r\n", "\xEF\xBB\xBFa\n1\n2.5\n", "a,b\n1\n", "a\n\"", "x\ntrue\nFALSE\n",
		"d,t\n2024-01-02,2024-01-02 03:04:05+02:00\n", "a,a\n1,2\n", "", "\n\n", "a\nx\"y\n", "n\n99999999999999999999\n",
	} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, header bool) {
		fuzzText(t, "f.csv", TextOptions{Format: CSV, HasHeader: header}, body)
	})
}

func FuzzReadNDJSON(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": {"c": [1.5, 2]}, "d": [{"e": "x"}, {"f": true}]}` + "\n" + `{"a": null}`,
		"{\"a\": 1}\n\n{\"a\": 2.5}\r\n", `{"a": []}`, `[1]`, `{"a": 1}{"a": 2}`, `{"a": 1e400}`, "", "\n",
		`{"a": "x"}` + "\n" + `{"a": 1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzText(t, "f.ndjson", TextOptions{Format: NDJSON}, body)
	})
}
