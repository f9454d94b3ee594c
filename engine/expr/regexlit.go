package expr

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
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

// search runs a regular expression faster where its pattern allows, with the answers of
// re itself. A string without the pattern's required literal cannot match (strings.Index
// tells it). And when the pattern is a concatenation whose parts before a literal part L
// match at most back bytes (asserting nothing but the start of the text), no match starts
// more than back bytes before the first L of a string: the search starts there, with a
// form of the pattern (from) in which the start of the text never matches, since that
// offset is not the start. Go's regexp tries every start position of an unanchored
// pattern that does not begin with a literal, such as (&|^)channel_id=([^&]*) over URLs.
type search struct {
	re     *regexp.Regexp
	need   string         // a literal every match contains ("": none known)
	from   *regexp.Regexp // nil: search from the beginning; else the search from an offset
	anchor string         // the literal part the offset is found from
	back   int
}

func newSearch(re *regexp.Regexp) *search {
	s := &search{re: re, need: requiredLiteral(re.String())}
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return s
	}
	tree = tree.Simplify()
	lit, back, ok := literalAnchor(tree)
	if !ok {
		return s
	}
	from, err := regexp.Compile(withoutTextStart(tree).String())
	if err != nil || from.NumSubexp() != re.NumSubexp() {
		return s
	}
	s.from, s.anchor, s.back = from, lit, back
	return s
}

// start is where a search of x may begin (-1: x cannot match).
func (s *search) start(x string) int {
	if s.need != "" && s.need != s.anchor && !strings.Contains(x, s.need) {
		return -1
	}
	if s.from == nil {
		return 0
	}
	at := strings.Index(x, s.anchor)
	if at < 0 {
		return -1
	}
	return max(at-s.back, 0)
}

func (s *search) match(x string) bool {
	switch at := s.start(x); {
	case at < 0:
		return false
	case at == 0:
		return s.re.MatchString(x)
	default:
		return s.from.MatchString(x[at:])
	}
}

func (s *search) find(x string) []int {
	switch at := s.start(x); {
	case at < 0:
		return nil
	case at == 0:
		return s.re.FindStringSubmatchIndex(x)
	default:
		m := s.from.FindStringSubmatchIndex(x[at:])
		for i := range m {
			if m[i] >= 0 {
				m[i] += at
			}
		}
		return m
	}
}

// literalAnchor finds, in a top-level concatenation, the first literal part whose parts
// before it match at most back bytes.
func literalAnchor(re *syntax.Regexp) (lit string, back int, ok bool) {
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpConcat {
		return "", 0, false
	}
	back = 0
	for _, sub := range re.Sub {
		inner := sub
		for inner.Op == syntax.OpCapture && len(inner.Sub) == 1 {
			inner = inner.Sub[0]
		}
		if inner.Op == syntax.OpLiteral && inner.Flags&syntax.FoldCase == 0 && !strings.ContainsRune(string(inner.Rune), '\uFFFD') {
			return string(inner.Rune), back, true
		}
		w := maxWidth(sub)
		if w < 0 {
			return "", 0, false
		}
		back += w
	}
	return "", 0, false
}

// maxWidth is the most bytes re can match, or -1 when unbounded or when it asserts
// anything but the start of the text (whose answer would depend on text before a match).
func maxWidth(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginText:
		return 0
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			if w := utf8.RuneLen(r); w > 0 && re.Flags&syntax.FoldCase == 0 {
				n += w
			} else {
				n += utf8.UTFMax // a folded case may be longer
			}
		}
		return n
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return utf8.UTFMax
	case syntax.OpCapture, syntax.OpQuest:
		return maxWidth(re.Sub[0])
	case syntax.OpConcat, syntax.OpAlternate:
		total := 0
		for _, sub := range re.Sub {
			w := maxWidth(sub)
			if w < 0 {
				return -1
			}
			if re.Op == syntax.OpConcat {
				total += w
			} else {
				total = max(total, w)
			}
		}
		return total
	case syntax.OpRepeat:
		w := maxWidth(re.Sub[0])
		if w < 0 || re.Max < 0 {
			return -1
		}
		return w * re.Max
	}
	return -1 // star, plus, the other assertions
}

// withoutTextStart is a copy of re in which the start of the text (^, \A) never matches.
func withoutTextStart(re *syntax.Regexp) *syntax.Regexp {
	c := *re
	if c.Op == syntax.OpBeginText {
		return &syntax.Regexp{Op: syntax.OpNoMatch, Flags: c.Flags}
	}
	c.Sub = make([]*syntax.Regexp, len(re.Sub))
	for i, sub := range re.Sub {
		c.Sub[i] = withoutTextStart(sub)
	}
	c.Sub0 = [1]*syntax.Regexp{}
	return &c
}
