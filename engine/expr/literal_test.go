package expr

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// A bytes literal travels as {"base64": ...}: it decodes to its bytes, and a malformed one
// is an error that says so, never a string of the wrong bytes.
func TestBinaryLiteralFromBase64(t *testing.T) {
	bt := arrow.BinaryTypes.Binary
	sc, err := MakeScalar(json.RawMessage(`{"base64": "AP8="}`), bt)
	if err != nil || sc.String() != string([]byte{0, 0xff}) {
		t.Fatalf("got %q, %v; want the bytes 00 ff", sc, err)
	}
	for _, bad := range []string{`{"base64": "AP8"}`, `{"base64": 3}`, `{"b64": "AA=="}`, `{"base64": "AA==", "x": 1}`} {
		if _, err := MakeScalar(json.RawMessage(bad), bt); err == nil || !strings.Contains(err.Error(), "base64") {
			t.Fatalf("%s: %v, want an error about base64", bad, err)
		}
	}
}
