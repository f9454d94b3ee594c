package batch

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ResolvePaths expands each pattern into the Parquet files it names and returns
// them sorted lexically, without duplicates. A pattern is one of:
//
//   - a file path, taken as is whatever its name;
//   - a directory, standing for every *.parquet file below it, recursively;
//   - a glob in path/filepath.Match syntax (`**` is not special); matched
//     directories are expanded as above.
//
// Names starting with "." or "_" found by a directory walk or a glob are
// skipped: they are hidden, in-progress or marker files (see ParquetWriter).
// A pattern that matches no file is an rberr NotFound error naming it.
func ResolvePaths(patterns []string) ([]string, error) {
	if len(patterns) == 0 {
		return nil, rberr.New(rberr.NotFound, "no input paths given")
	}
	var out []string
	for _, p := range patterns {
		files, err := resolveOne(p)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func resolveOne(pattern string) ([]string, error) {
	if !hasMeta(pattern) {
		st, err := os.Stat(pattern)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, rberr.Wrap(rberr.NotFound, err, "input path %q does not exist", pattern)
		case err != nil:
			return nil, rberr.Wrap(rberr.IO, err, "cannot access input path %q", pattern)
		case !st.IsDir():
			return []string{pattern}, nil
		}
		files, err := walkDir(pattern)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, rberr.New(rberr.NotFound, "directory %q contains no Parquet files", pattern)
		}
		return files, nil
	}

	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, rberr.Wrap(rberr.Plan, err, "invalid glob pattern %q", pattern)
	}
	var files []string
	for _, m := range matches {
		if hidden(filepath.Base(m)) {
			continue
		}
		st, err := os.Stat(m)
		if err != nil {
			return nil, rberr.Wrap(rberr.IO, err, "cannot access %q (matched by %q)", m, pattern)
		}
		if !st.IsDir() {
			files = append(files, m)
			continue
		}
		sub, err := walkDir(m)
		if err != nil {
			return nil, err
		}
		files = append(files, sub...)
	}
	if len(files) == 0 {
		return nil, rberr.New(rberr.NotFound, "no Parquet files match %q", pattern)
	}
	return files, nil
}

// walkDir lists the *.parquet files below root, skipping hidden names.
func walkDir(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return rberr.Wrap(rberr.IO, err, "cannot list directory %q", path)
		}
		if path != root && hidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".parquet") {
			files = append(files, path)
		}
		return nil
	})
	return files, err
}

func hidden(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}

func hasMeta(pattern string) bool {
	return strings.ContainsAny(pattern, `*?[\`)
}
