// Package statetest holds what the tests of package state and of its backend packages
// share: table declarations covering every kind, a plain-map reference of keyed state (the
// oracle), clusters of subtask backends, random operation sequences, and the test bodies
// every backend runs.
package statetest
