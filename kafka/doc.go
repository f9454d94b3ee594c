// Package kafka is riverbed's Kafka connectivity on franz-go, independent of
// the engine's internals.
package kafka
