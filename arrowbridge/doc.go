// Package arrowbridge moves Arrow data across the C Data and C Stream Interfaces. It is,
// with capi, the only code that touches the C Arrow structs; it wraps arrow-go's cdata
// package so that the engine sees only arrow.Schema and array.RecordReader values.
//
// Ownership follows the Arrow C interface: importing a stream or schema moves it (the
// caller's struct is left released and need not be released again); exporting fills a
// zero-initialized struct that the consumer must release through its release callback.
package arrowbridge
