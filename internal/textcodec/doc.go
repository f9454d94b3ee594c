// Package textcodec reads and writes the text formats that riverbed's Kafka
// records and its CSV and newline-delimited JSON files share, so that the Kafka
// codecs and the file readers and writers parse, infer and print values the same
// way (it imports only arrow-go and rberr).
//
// Values (values.go): the Arrow types the text formats read (CheckType), the
// parsing of integers, floats, booleans, dates and timestamps from text, and an
// intermediate row form ([]any) that is appended to Arrow builders only once a
// whole row has parsed (AppendValue), so a bad row leaves nothing half-written.
// Every parse error names the field ("field \"user.id\": ...").
//
// JSON (json.go, jsonwrite.go, infer.go): ParseJSONRow reads one JSON object
// against a schema (nested structs and lists, timestamps as RFC 3339 text or
// integers in the column's unit, binary as base64); WriteJSONValue prints a value
// in the forms ParseJSONRow reads back; JSONInferrer infers a schema from a
// sample of objects, fields in the order the objects give them.
//
// CSV (csv.go, csvinfer.go): ParseCSVRow reads one CSV row (a Kafka record);
// CSVAppender converts the fields of one column of a CSV file straight into its
// Arrow builder; CSVInferrer infers column types from a sample of rows.
package textcodec
