package plan

// TextDef is the "text" object of the CSV and newline-delimited JSON readers
// (scan_csv, scan_ndjson) and writers (write_csv, write_ndjson).
//
//	{"schema": "<base64 Arrow IPC stream of the columns>", "infer_rows": 100,
//	 "has_header": true, "separator": ",", "comment_prefix": "#", "null_values": ["NA"]}
//	{"include_header": true, "separator": ";", "null_value": ""}
type TextDef struct {
	// Readers. Schema absent: inferred from the first InferRows rows (0: 100; -1: all).
	Schema    string `json:"schema,omitempty"`
	InferRows int    `json:"infer_rows,omitempty"`
	// CSV: whether files begin with a header (absent: true), the field separator
	// (absent: ","), a comment character, and texts read as null besides the empty field.
	HasHeader     *bool    `json:"has_header,omitempty"`
	Separator     string   `json:"separator,omitempty"`
	CommentPrefix string   `json:"comment_prefix,omitempty"`
	NullValues    []string `json:"null_values,omitempty"`
	// write_csv: whether each file begins with a header (absent: true) and the text
	// of a null (absent: the empty field); Separator as above.
	IncludeHeader *bool  `json:"include_header,omitempty"`
	NullValue     string `json:"null_value,omitempty"`
}
