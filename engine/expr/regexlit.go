package expr

import (
	"regexp/syntax"
	"strings"
)

// requiredLiteral is a text every match of the regular expression pattern contains (the
// longest literal among the parts of a top-level concatenation, case-sensitive), or "" when
// there is none. A string without it cannot match, which strings.Contains tells far faster
// than running the expression (Go's regexp tries every start position of an unanchored
// pattern such as (&|^)channel_id=([^&]*)).
func requiredLiteral(pattern string) string {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return ""
	}
	re = re.Simplify()
	lit := func(r *syntax.Regexp) string {
		// (U+FFFD also matches invalid UTF-8 bytes, which strings.Contains would not find)
		if r.Op == syntax.OpLiteral && r.Flags&syntax.FoldCase == 0 && !strings.ContainsRune(string(r.Rune), '\uFFFD') {
			return string(r.Rune)
		}
		return ""
	}
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		return lit(re)
	}
	best := ""
	for _, sub := range re.Sub {
		for sub.Op == syntax.OpCapture && len(sub.Sub) == 1 {
			sub = sub.Sub[0]
		}
		if l := lit(sub); len(l) > len(best) {
			best = l
		}
	}
	return best
}

// prefiltered wraps a match function so that strings without the pattern's required
// literal are refused without running it.
func prefiltered[T any](pattern string, f func(string) T, none T) func(string) T {
	l := requiredLiteral(pattern)
	if l == "" {
		return f
	}
	return func(s string) T {
		if !strings.Contains(s, l) {
			return none
		}
		return f(s)
	}
}
