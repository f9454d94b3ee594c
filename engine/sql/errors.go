package sql

import (
	"errors"
	"fmt"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// errorAt is a plan error at a position of the SQL text.
func errorAt(p Pos, format string, args ...any) error {
	return errorKindAt(rberr.Plan, p, format, args...)
}

// errorKindAt is an error of kind k at a position of the SQL text.
func errorKindAt(k rberr.Kind, p Pos, format string, args ...any) error {
	return &rberr.Error{Kind: k, Msg: fmt.Sprintf("SQL %s: %s", p, fmt.Sprintf(format, args...))}
}

// atPos puts the SQL position in front of an engine error, keeping its kind.
func atPos(p Pos, err error) error {
	if err == nil {
		return nil
	}
	var re *rberr.Error
	if errors.As(err, &re) {
		if len(re.Msg) >= 4 && re.Msg[:4] == "SQL " {
			return err
		}
		return &rberr.Error{Kind: re.Kind, Msg: fmt.Sprintf("SQL %s: %s", p, re.Msg), Cause: re.Cause}
	}
	return &rberr.Error{Kind: rberr.Plan, Msg: fmt.Sprintf("SQL %s: %s", p, err.Error())}
}

// unsupported is an error naming a construct the planner does not cover yet.
func unsupported(p Pos, what string) error {
	return errorAt(p, "%s is not supported yet (see docs/sql.md)", what)
}
