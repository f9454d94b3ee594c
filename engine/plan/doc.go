// Package plan owns the logical plan document as it crosses the C ABI: the versioned JSON
// of nodes (Node: the fields every node has, with the operator's own arguments kept apart
// as Args), the parts of arguments operators share (expressions, windows, generator
// fields, event time, Kafka and text file settings), the plan options and runtime modes,
// and the helpers its validation shares (durations such as "5s", "did you mean"
// suggestions). It checks the envelope and the references between nodes only; each
// operator's arguments are its own type, decoded by the operator's registration in the
// engine (engine/op_<name>.go), and operators are bound and validated against their input
// schemas there.
package plan
