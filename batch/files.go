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
// skipped: they are hidden, in-progress or marker files (see FileWriter).
// A pattern that matches no file is an rberr NotFound error naming it.
func ResolvePaths(patterns []string) ([]string, error) {
	return ResolveFiles(patterns, ParquetFiles)
}

// FileKind is what ResolveFiles looks for in directories: files whose names end in
// one of Exts, called Name in errors.
type FileKind struct {
	Name string
	Exts []string
}

var (
	// ParquetFiles are *.parquet files.
	ParquetFiles = FileKind{"Parquet", []string{".parquet"}}
	// CSVFiles are *.csv, *.tsv and *.txt files, gzipped (*.csv.gz) or not.
	CSVFiles = FileKind{"CSV", []string{".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz"}}
	// NDJSONFiles are *.ndjson, *.jsonl and *.json files, gzipped or not.
	NDJSONFiles = FileKind{"NDJSON", []string{".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz"}}
)

func (k FileKind) matches(name string) bool {
	for _, e := range k.Exts {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// ResolveFiles is ResolvePaths for files of any kind: a directory stands for the
// files below it whose names end in one of kind's extensions.
func ResolveFiles(patterns []string, kind FileKind) ([]string, error) {
	if len(patterns) == 0 {
		return nil, rberr.New(rberr.NotFound, "no input paths given")
	}
	var out []string
	for _, p := range patterns {
		files, err := resolveOne(p, kind)
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func resolveOne(pattern string, kind FileKind) ([]string, error) {
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
		files, err := walkDir(pattern, kind)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, rberr.New(rberr.NotFound, "directory %q contains no %s files (names ending in %s)", pattern, kind.Name, strings.Join(kind.Exts, ", "))
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
		sub, err := walkDir(m, kind)
		if err != nil {
			return nil, err
		}
		files = append(files, sub...)
	}
	if len(files) == 0 {
		return nil, rberr.New(rberr.NotFound, "no %s files match %q", kind.Name, pattern)
	}
	return files, nil
}

// FilesBelow lists the files of kind that reading dir reads (every one below it, hidden
// names skipped); none when dir does not exist.
func FilesBelow(dir string, kind FileKind) ([]string, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return walkDir(dir, kind)
}

// walkDir lists the files of kind below root, skipping hidden names.
func walkDir(root string, kind FileKind) ([]string, error) {
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
		if !d.IsDir() && kind.matches(d.Name()) {
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
