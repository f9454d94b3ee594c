package kafka

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// InferJSONSchema infers the Arrow schema of JSON objects from a sample of
// record values (textcodec.JSONInferrer says how). Values that are not JSON
// objects (and tombstones) are skipped; a sample without any object is an
// error, as are values of one field whose types cannot be united (a number in
// one record and a string in another): both ask for an explicit schema.
func InferJSONSchema(values [][]byte) (*arrow.Schema, error) {
	return textcodec.InferJSONSchema(values, "kafka")
}
