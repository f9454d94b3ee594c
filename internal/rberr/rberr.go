package rberr

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The numeric values are part of the C ABI (status codes):
// never renumber, only append.
type Kind int32

const (
	OK Kind = 0
	// Internal is a bug in riverbed, including a recovered Go panic.
	Internal Kind = 1
	// Plan is a malformed or unsupported plan (bad JSON, unknown operator, bad argument).
	Plan Kind = 2
	// ColumnNotFound is a reference to a column the input does not have.
	ColumnNotFound Kind = 3
	// Type is a type mismatch in an expression or aggregation.
	Type Kind = 4
	// Schema is an incompatible schema, e.g. across the files of one dataset.
	Schema Kind = 5
	// NotFound is a missing file, directory or glob that matched nothing.
	NotFound Kind = 6
	// Data is corrupt or unreadable input data (names the file and, where known, the offset).
	Data Kind = 7
	// IO is a failure reading or writing storage that is not the data's fault.
	IO Kind = 8
	// Cancelled means the job was cancelled by the user.
	Cancelled Kind = 9
	// UserFunction is an error raised by a user's Python function.
	UserFunction Kind = 10
	// InvalidArgument is a bad argument to an API call (bad handle, null pointer).
	InvalidArgument Kind = 11
)

var kindNames = map[Kind]string{
	OK: "ok", Internal: "internal", Plan: "plan", ColumnNotFound: "column_not_found",
	Type: "type", Schema: "schema", NotFound: "not_found", Data: "data", IO: "io",
	Cancelled: "cancelled", UserFunction: "user_function", InvalidArgument: "invalid_argument",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int32(k))
}

// Error is an error with a kind. Msg is complete and user-facing; Cause, if set, is
// the underlying error (kept for errors.Is / errors.As and shown after the message).
type Error struct {
	Kind  Kind
	Msg   string
	Cause error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Cause }

// New returns an error of kind k with a formatted message.
func New(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with a formatted message and a cause.
func Wrap(k Kind, cause error, format string, args ...any) error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...), Cause: cause}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal if there is none.
func KindOf(err error) Kind {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}
