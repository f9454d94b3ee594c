package expr

import (
	"math/rand"
	"regexp"
	"testing"
)

func TestRequiredLiteral(t *testing.T) {
	for pattern, want := range map[string]string{
		"(&|^)channel_id=([^&]*)": "channel_id=",
		"^(?:[^/]*/){3}([^/]*)":   "",
		"(?i)abc":                 "",
		"(?i:ab)cd(e+)":           "cd",
		"x|y":                     "",
		"(abc)":                   "abc",
		"a+bc?def":                "def",
		"\\d+ items":              " items",
		"caf\u00e9 (\\w+)":        "caf\u00e9 ",
		"a\ufffdb":                "",
		"[":                       "",
	} {
		if got := requiredLiteral(pattern); got != want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// A search (the required literal's filter, the start found from a literal part) gives the
// plain expression's answer on random strings built from the patterns' own pieces (so that
// many match, at the start of the text and after it), invalid UTF-8 included; and it
// starts from an offset only where the parts before the literal are bounded and assert
// nothing but the start of the text.
func TestSearchMatchesRegexp(t *testing.T) {
	pieces := []string{"&", "channel_id=", "=", "a", "b", "B", "cd", "CD", "x", "/", "é", "\xff", "1", " ", "def", "\ufffd", "\n", "ß"}
	patterns := map[string]bool{ // pattern: whether the search starts from an offset
		"(&|^)channel_id=([^&]*)": true, "(?i)cd(x*)": false, "(?i:ab)cd(e*)": true, "a+b?cd": false,
		"\\d+ x": false, "é(.)": true, "x|/": false, "a\ufffdb": false, "(cd)(?:x|$)": true,
		"^cd": true, "(?:x|^|/)?(a{1,3})cd([^/]*)": true, ".?.?=(1)": true, "\\bcd": false,
		"(?m)^cd": false, "(?s)(.{0,2})def": true, "[éß]{2}x(b)": true, "(é|^ß)?x": true,
		"(?i:é)x": true, "b*cd": false, "(?U)(x.*)cd": false, "(?:cd)+=": false, "x{2}=": true,
	}
	rng := rand.New(rand.NewSource(9))
	for p, offset := range patterns {
		re := regexp.MustCompile(p)
		s := newSearch(re)
		if got := s.from != nil; got != offset {
			t.Errorf("%q: starts from an offset %v, want %v (anchor %q, back %d)", p, got, offset, s.anchor, s.back)
		}
		for i := 0; i < 4000; i++ {
			x := ""
			for k := rng.Intn(10); k > 0; k-- {
				x += pieces[rng.Intn(len(pieces))]
			}
			if got, want := s.find(x), re.FindStringSubmatchIndex(x); !equalInts(got, want) {
				t.Fatalf("%q on %q: %v, want %v", p, x, got, want)
			}
			if got, want := s.match(x), re.MatchString(x); got != want {
				t.Fatalf("%q matches %q: %v, want %v", p, x, got, want)
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Any pattern Go's regexp compiles, searched with newSearch, gives regexp's own answers.
func FuzzSearch(f *testing.F) {
	for _, seed := range [][2]string{{"(&|^)channel_id=([^&]*)", "q=1&channel_id=7&x"}, {"(?:x|^)?a{1,3}cd", "aacd"},
		{"(?s).?=(1)", "\n=1"}, {"^cd", "xcd"}, {"(é|^ß)?x", "ßx"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, x string) {
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		s := newSearch(re)
		if got, want := s.find(x), re.FindStringSubmatchIndex(x); !equalInts(got, want) {
			t.Fatalf("%q on %q: %v, want %v", pattern, x, got, want)
		}
		if got, want := s.match(x), re.MatchString(x); got != want {
			t.Fatalf("%q matches %q: %v, want %v", pattern, x, got, want)
		}
	})
}
