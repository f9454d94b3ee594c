// Package vec holds small loops over slices of numbers that the engine runs over every
// row, written so the compiler emits no branch per element.
package vec
