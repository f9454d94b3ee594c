package agg

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Interpolations are quantile's ways of choosing between the two values around the
// quantile's position, with Polars' names.
var Interpolations = []string{"nearest", "higher", "lower", "midpoint", "linear"}

// aggOptions lists the options each aggregation takes.
var aggOptions = map[string][]string{
	"std":      {"ddof"},
	"var":      {"ddof"},
	"quantile": {"quantile", "interpolation"},
	"any":      {"ignore_nulls"},
	"all":      {"ignore_nulls"},
}

// compileOptions reads the options of aggregation e into spec and refuses options the
// aggregation does not take.
func compileOptions(s *expr.CompileScope, e *plan.Expr, spec *Spec) error {
	fn := e.Agg
	allowed := aggOptions[fn]
	for k := range e.Options {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			if len(allowed) == 0 {
				return s.Errorf(rberr.Plan, "%s takes no options, got %q", fn, k)
			}
			msg := fmt.Sprintf("%s takes the options %s, not %q", fn, strings.Join(allowed, ", "), k)
			if sug := plan.Suggest(k, allowed); sug != "" {
				msg += fmt.Sprintf("; did you mean %q?", sug)
			}
			return s.Errorf(rberr.Plan, "%s", msg)
		}
	}
	bad := func(err error) error { return s.Errorf(rberr.Plan, "%s: %v", fn, err) }
	switch fn {
	case "std", "var":
		spec.Ddof = 1
		if v, ok, err := optNumber(e.Options, "ddof"); err != nil {
			return bad(err)
		} else if ok {
			if v != math.Trunc(v) || v < 0 || v > math.MaxInt32 {
				return s.Errorf(rberr.Plan, "%s: ddof must be a non-negative integer, got %v", fn, v)
			}
			spec.Ddof = int64(v)
		}
	case "median":
		spec.Quantile, spec.Interp = 0.5, "linear"
	case "quantile":
		q, ok, err := optNumber(e.Options, "quantile")
		if err != nil {
			return bad(err)
		}
		if !ok {
			return s.Errorf(rberr.Plan, "quantile needs the quantile, a number between 0 and 1")
		}
		if !(q >= 0 && q <= 1) {
			return s.Errorf(rberr.Plan, "quantile must be between 0 and 1, got %v", q)
		}
		spec.Quantile, spec.Interp = q, "nearest"
		if v, ok := e.Options["interpolation"]; ok && v != nil {
			str, isStr := v.(string)
			known := false
			for _, i := range Interpolations {
				known = known || i == str
			}
			if !isStr || !known {
				msg := fmt.Sprintf("quantile: interpolation must be one of %s, got %v", strings.Join(Interpolations, ", "), v)
				if sug := plan.Suggest(str, Interpolations); isStr && sug != "" {
					msg += fmt.Sprintf("; did you mean %q?", sug)
				}
				return s.Errorf(rberr.Plan, "%s", msg)
			}
			spec.Interp = str
		}
	case "any", "all":
		spec.IgnoreNulls = true
		if v, ok := e.Options["ignore_nulls"]; ok && v != nil {
			b, isBool := v.(bool)
			if !isBool {
				return s.Errorf(rberr.Plan, "%s: ignore_nulls must be true or false, got %v", fn, v)
			}
			spec.IgnoreNulls = b
		}
	}
	return nil
}

// optNumber reads a numeric option (plan options are decoded with UseNumber).
func optNumber(o map[string]any, name string) (float64, bool, error) {
	v, ok := o[name]
	if !ok || v == nil {
		return 0, false, nil
	}
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return 0, false, fmt.Errorf("option %q must be a number, got %s", name, n)
		}
		return f, true, nil
	case float64:
		return n, true, nil
	case int:
		return float64(n), true, nil
	case int64:
		return float64(n), true, nil
	}
	return 0, false, fmt.Errorf("option %q must be a number, got %v", name, v)
}

// OptionText renders a spec's options for explain ("" when it has none).
func (s Spec) OptionText() string {
	var parts []string
	switch s.Fn {
	case "std", "var":
		parts = append(parts, fmt.Sprintf("ddof=%d", s.Ddof))
	case "quantile":
		parts = append(parts, fmt.Sprintf("%v", s.Quantile), fmt.Sprintf("interpolation=%s", s.Interp))
	case "any", "all":
		if !s.IgnoreNulls {
			parts = append(parts, "ignore_nulls=false")
		}
	case "max_by", "min_by":
		parts = append(parts, s.By.String())
	}
	return strings.Join(parts, ", ")
}
