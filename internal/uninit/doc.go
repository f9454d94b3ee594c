// Package uninit hands out Arrow memory that is not zeroed, for buffers whose every byte
// the caller writes before anyone reads it (a decoded page's values, the rows a filter
// keeps).
//
// Arrow's allocators zero what they hand out, and the Arrow libraries rely on it (a
// builder's validity bitmap sets only its valid bits). Zeroing a fresh buffer is a first
// write to every page of it: for the megabytes of a batch's columns it cost a sixth of a
// Parquet filter and group-by's CPU time. An allocator that can skip it offers a second
// allocator through Provider; Allocator returns that one, or the allocator itself.
package uninit
