package batch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolvePaths(t *testing.T) {
	dir := t.TempDir()
	j := func(parts ...string) string { return filepath.Join(append([]string{dir}, parts...)...) }
	touch(t,
		j("data", "b.parquet"),
		j("data", "a.parquet"),
		j("data", "sub", "c.parquet"),
		j("data", "sub", "notes.txt"),
		j("data", ".hidden.parquet"),
		j("data", "_SUCCESS"),
		j("data", "_tmp", "d.parquet"),
		j("data", ".staging", "e.parquet"),
		j("data", ".part-00000.parquet.inprogress"),
		j("other", "x.parquet"),
		j("other", "y.data"),
	)

	cases := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"directory recursive, hidden skipped", []string{j("data")},
			[]string{j("data", "a.parquet"), j("data", "b.parquet"), j("data", "sub", "c.parquet")}},
		{"single file, any name", []string{j("other", "y.data")}, []string{j("other", "y.data")}},
		{"glob", []string{j("data", "*.parquet")}, []string{j("data", "a.parquet"), j("data", "b.parquet")}},
		{"glob matching directories", []string{j("*")},
			[]string{j("data", "a.parquet"), j("data", "b.parquet"), j("data", "sub", "c.parquet"), j("other", "x.parquet")}},
		{"several patterns, sorted and deduplicated", []string{j("other", "x.parquet"), j("data", "?.parquet"), j("data", "a.parquet")},
			[]string{j("data", "a.parquet"), j("data", "b.parquet"), j("other", "x.parquet")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ResolvePaths(c.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestResolvePathsErrors(t *testing.T) {
	dir := t.TempDir()
	touch(t, filepath.Join(dir, "a.parquet"), filepath.Join(dir, "empty", "readme.txt"))

	noMatch := filepath.Join(dir, "*.csv")
	_, err := ResolvePaths([]string{filepath.Join(dir, "a.parquet"), noMatch})
	wantKind(t, err, rberr.NotFound, noMatch)

	missing := filepath.Join(dir, "missing.parquet")
	_, err = ResolvePaths([]string{missing})
	wantKind(t, err, rberr.NotFound, missing)

	_, err = ResolvePaths([]string{filepath.Join(dir, "empty")})
	wantKind(t, err, rberr.NotFound, "empty")

	_, err = ResolvePaths(nil)
	wantKind(t, err, rberr.NotFound)

	_, err = ResolvePaths([]string{filepath.Join(dir, "[")})
	wantKind(t, err, rberr.Plan)
}
