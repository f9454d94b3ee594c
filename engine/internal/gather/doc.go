// Package gather builds a column of rows picked from several arrays of one type (chunks),
// in one pass, straight into the output's buffers: no per-chunk take, concatenation and
// permutation. The row store of the keyed operators gathers join and top-N rows with it,
// and the sort's merge the rows of its sorted runs. Rows picks rows of one array, as a
// filter and the hash exchange do, without arrow's take's check of every index.
package gather
