//go:build !linux

package keyed

func populate[T any](t []T) {}
