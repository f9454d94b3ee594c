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

// A prefiltered match gives the plain expression's answer on random strings built from the
// patterns' own pieces (so that many match), invalid UTF-8 included.
func TestPrefilteredMatchesRegexp(t *testing.T) {
	pieces := []string{"&", "channel_id=", "=", "a", "b", "B", "cd", "CD", "x", "/", "é", "\xff", "1", " ", "def", "\ufffd"}
	patterns := []string{"(&|^)channel_id=([^&]*)", "(?i)cd(x*)", "(?i:ab)cd(e*)", "a+b?cd", "\\d+ x", "é(.)", "x|/", "a\ufffdb", "(cd)(?:x|$)"}
	rng := rand.New(rand.NewSource(9))
	for _, p := range patterns {
		re := regexp.MustCompile(p)
		find := prefiltered(p, re.FindStringSubmatchIndex, nil)
		match := prefiltered(p, re.MatchString, false)
		for i := 0; i < 3000; i++ {
			s := ""
			for k := rng.Intn(8); k > 0; k-- {
				s += pieces[rng.Intn(len(pieces))]
			}
			if got, want := find(s), re.FindStringSubmatchIndex(s); !equalInts(got, want) {
				t.Fatalf("%q on %q: %v, want %v", p, s, got, want)
			}
			if got, want := match(s), re.MatchString(s); got != want {
				t.Fatalf("%q matches %q: %v, want %v", p, s, got, want)
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
