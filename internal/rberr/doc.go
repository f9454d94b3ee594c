// Package rberr defines riverbed's error kinds. Every error that can reach a user carries
// one kind; the C ABI maps the kind to a status code and Python maps the code to one
// exception class of the riverbed.RiverbedError hierarchy.
package rberr
