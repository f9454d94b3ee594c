// Package gen provides deterministic synthetic data sources: the events of the
// Nexmark benchmark (people, auctions and bids) and a datagen source producing
// random or sequential values for an arbitrary schema.
//
// Every generator describes a conceptually infinite sequence indexed from 0.
// Row i is a pure function of the configured seed and i: no state is carried
// from one row to the next, so a sequence may be split into any ranges,
// generated in parallel or replayed after a restore, and the rows come out
// identical. Generators are immutable once built and safe for concurrent use.
//
// Each index also has an event time (Generator.EventTime), a fixed linear
// function of the index, so event time advances at the configured rate
// regardless of how fast rows are actually produced.
//
// Nexmark follows the reference generator of the Nexmark benchmark suite (as
// used by Apache Beam and Apache Flink): one event stream in which index i is
// event i, split in proportions 1:3:46 between people, auctions and bids, with
// hot auctions, sellers and bidders and bids referring to recently created
// (or soon to be created) people and auctions. Each generator returned by
// NewNexmark yields the rows of one kind; the others are skipped, so the three
// kinds over the same index range together form the full stream.
package gen
