package engine

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

func ipcSchema(t *testing.T, fields ...arrow.Field) string {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(arrow.NewSchema(fields, nil)))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// A process node is validated completely before anything runs: keys, function, schemas
// and TTLs, each error naming the operator and what is wrong.
func TestProcessPlanValidation(t *testing.T) {
	out := ipcSchema(t, arrow.Field{Name: "k", Type: arrow.PrimitiveTypes.Int64})
	st := ipcSchema(t, arrow.Field{Name: "flag", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "seen", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64)})
	doc := func(extra string) string {
		return `{"version":1,"root":{"op":"process","input":{"op":"scan_arrow","source":0,"event_time":"ts"}` + extra + `}}`
	}
	good := `,"keys":[{"col":"k"}],"udf":1,"output_schema":"` + out + `","state_schema":"` + st +
		`","state_ttls":[{"ttl":"10m"},{"ttl":"","update":"on_read_and_write"}]`
	text, err := Explain([]byte(doc(good)), []*arrow.Schema{fuzzSchema})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"process", `keys [col("k")]`, "flag bool ttl 10m", "seen list"} {
		if !strings.Contains(text, w) {
			t.Errorf("explain lacks %q:\n%s", w, text)
		}
	}
	bad := []struct{ extra, want string }{
		{`,"udf":1,"output_schema":"` + out + `"`, "needs keys"},
		{`,"keys":[{"col":"kk"}],"udf":1,"output_schema":"` + out + `"`, `"kk"`},
		{`,"keys":[{"col":"k"}],"output_schema":"` + out + `"`, "no function"},
		{`,"keys":[{"col":"k"}],"udf":1`, "no output schema"},
		{`,"keys":[{"col":"k"}],"udf":1,"output_schema":"%%%"`, "output_schema is not base64"},
		{`,"keys":[{"col":"k"}],"udf":1,"output_schema":"AAAA"`, "output_schema is not an Arrow IPC schema"},
		{`,"keys":[{"col":"k"}],"udf":1,"output_schema":"` + out + `","state_schema":"` + st + `","state_ttls":[{"ttl":"1s"}]`, "state_ttls has 1 entries for 2 states"},
		{`,"keys":[{"col":"k"}],"udf":1,"output_schema":"` + out + `","state_schema":"` + st + `","state_ttls":[{"ttl":"-1s"},{}]`, `TTL of state "flag"`},
		{`,"keys":[{"col":"k"}],"udf":1,"output_schema":"` + out + `","state_schema":"` + st + `","state_ttls":[{"update":"never"},{}]`, `"on_create_and_write" or "on_read_and_write"`},
	}
	for _, c := range bad {
		_, err := Explain([]byte(doc(c.extra)), []*arrow.Schema{fuzzSchema})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "process") {
			t.Errorf("%s: got %v, want an error naming process and %q", c.extra, err, c.want)
		}
	}
}
