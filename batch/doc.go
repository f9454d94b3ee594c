// Package batch owns riverbed's bounded Parquet sources and sinks over local
// files: ResolvePaths expands files, directories and globs into a sorted file
// list; OpenParquet reads the footers, unifies the files' schemas into one
// Arrow schema and cuts the data into splits, one per row group, each with its
// footer statistics for pruning; Dataset.ReadSplit decodes a split's projected
// columns page by page straight into Arrow buffers (plain and
// dictionary-encoded pages, data pages v1 and v2, nulls from definition
// levels); and ParquetWriter writes records to files that become visible only
// at Commit. Only flat schemas of primitive columns are supported. The writer
// hands each column to the Parquet encoder in chunks of a column's values
// (parquet.Value, one per value, never per-row structs). Every failure is an
// rberr error: NotFound for missing inputs, Data for damaged files (naming the
// file, row group and column), Schema for files that disagree, Type for
// unsupported column types and IO for storage failures.
package batch
