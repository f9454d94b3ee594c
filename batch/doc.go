// Package batch owns riverbed's bounded file sources and sinks over local
// files (Parquet; CSV and newline-delimited JSON in text.go and textsink.go): ResolvePaths expands files, directories and globs into a sorted file
// list; OpenParquet reads the footers, unifies the files' schemas into one
// Arrow schema (restoring the Arrow types recorded in the ARROW:schema
// metadata, as pyarrow does) and cuts the data into splits, one per row group,
// each with its footer statistics for pruning; Dataset.ReadSplit decodes a
// split's projected columns page by page straight into Arrow buffers (every
// codec and encoding, data pages v1 and v2, nulls from definition levels,
// decimals of any physical type into decimal128/256, recorded dictionary types
// from dictionary pages and indices); and FileWriter writes
// records to hidden in-progress files, rolled by rows, size or age (RollingPolicy), that
// become visible only when committed: at the end as one atomic commit of all writers
// (CommitAll, with a commit record that RecoverCommits rolls forward after a crash), or
// checkpoint by checkpoint (PreCommit, then CommitPreCommitted / CommitPending; see
// sink2pc.go). The same FileWriter writes CSV or NDJSON files (NewRollingTextWriter).
// OpenText reads CSV or NDJSON files as one TextDataset (the schema given or inferred
// from a sample, internal/textcodec), a split per file; TextReader reads a file from
// a data row on, naming file, line and column in every error. Top-level primitive
// columns are read; nested columns (struct, list, map) are kept in the schema
// but reading one is a Type error (Dataset.CheckColumns), so the other columns
// of such files stay readable. parquetfixes.go works around decoding defects
// of the Parquet library (LZ4 pages, RLE booleans). The writer hands each
// column to the Parquet encoder in chunks of a column's values (parquet.Value,
// one per value, never per-row structs). Every failure is an rberr error:
// NotFound for missing inputs, Data for damaged files (naming the file, row
// group and column), Schema for files that disagree, Type for unsupported
// column types and IO for storage failures.
package batch
