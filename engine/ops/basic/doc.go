// Package basic owns the stateless row operators: filter (with its selectivity counted),
// projection (select and with_columns) and limit, which stops the sources once it has
// its rows.
package basic
