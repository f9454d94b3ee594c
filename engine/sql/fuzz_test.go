package sql

import (
	"errors"
	"testing"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

var sqlSeeds = []string{
	"SELECT * FROM t",
	"SELECT k, x * 2 AS y FROM t WHERE x > 1 AND s LIKE '%a_b%' ORDER BY y DESC LIMIT 3",
	"SELECT s, COUNT(*), SUM(dec), AVG(x), COUNT(DISTINCT k) FROM t GROUP BY s HAVING SUM(x) > 1",
	"SELECT t.k, u.s FROM t LEFT JOIN u ON t.k = u.k AND u.x > 0 WHERE t.s IS NOT NULL",
	"SELECT a.k FROM t a, u b WHERE a.k = b.k AND (a.x > 1 AND b.s = 'x' OR a.x > 1 AND b.s = 'y')",
	"WITH c AS (SELECT k, x FROM t) SELECT DISTINCT k FROM c UNION ALL SELECT k FROM u",
	"SELECT CASE s WHEN 'a' THEN 1 ELSE 0 END, CAST(x AS DECIMAL(10, 2)), EXTRACT(YEAR FROM d) FROM t WHERE d BETWEEN DATE '1995-01-01' AND DATE '1995-01-01' + INTERVAL '1' MONTH",
	"SELECT k, window_start, window_end, COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end",
	"CREATE TABLE g (id BIGINT, v DOUBLE) WITH ('connector' = 'datagen', 'number-of-rows' = '10'); SELECT id FROM g",
	"SELECT k FROM t WHERE k IN (SELECT k FROM u) AND NOT EXISTS (SELECT * FROM u WHERE u.k = t.k)",
	"SELECT SUBSTRING(s FROM 1 FOR 2), TRIM(s), COALESCE(x, 0), s || 'x' FROM t -- c\n/* c */",
	"SELECT k, x NOT IN (SELECT x FROM u WHERE u.k = t.k) AS a, k IN (1, NULL) FROM t WHERE s NOT IN (SELECT s FROM u) OR EXISTS (SELECT * FROM u)",
	"SELECT s, SUM(x) FROM t GROUP BY s HAVING SUM(x) NOT IN (SELECT x FROM u) AND (SELECT COUNT(*) FROM u WHERE u.s = t.s) > 0",
	"SELECT k FROM t WHERE x IS NOT DISTINCT FROM NULL AND (s = 'a') IS NOT UNKNOWN ORDER BY x DESC, k",
	"SELECT * FROM t FULL JOIN u USING (k) WHERE k IS DISTINCT FROM 1",
	"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY x DESC) AS rn FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))) WHERE rn <= 3",
	"SELECT k FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM t) WHERE rn = 1",
	"SELECT k, SUM(x) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW), RANK() OVER (ORDER BY x), COUNT(*) OVER (PARTITION BY s) FROM t",
	"SELECT L.k FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L JOIN TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k",
	"SELECT t.k FROM t JOIN u ON t.k = u.k AND t.ts BETWEEN u.ts - INTERVAL '5' SECOND AND u.ts + INTERVAL '1' SECOND",
	"SELECT o.k, r.x FROM t AS o LEFT JOIN u FOR SYSTEM_TIME AS OF o.ts AS r ON o.k = r.k",
	"CREATE TABLE src (k BIGINT, v DOUBLE, ts TIMESTAMP(3), `offset` BIGINT METADATA VIRTUAL, kts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp', WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'kafka', 'topic' = 'a;b', 'properties.bootstrap.servers' = 'h:1', 'format' = 'json', 'scan.startup.mode' = 'specific-offsets', 'scan.startup.specific-offsets' = 'partition:0,offset:4', 'scan.bounded.mode' = 'latest-offset'); SELECT k, `offset` FROM src",
	"CREATE TABLE s (k BIGINT, n BIGINT, CONSTRAINT pk PRIMARY KEY (k) NOT ENFORCED) WITH ('connector' = 'upsert-kafka', 'topic' = 's', 'properties.bootstrap.servers' = 'h:1', 'key.format' = 'raw', 'value.format' = 'json'); INSERT INTO s SELECT k, COUNT(*) FROM t GROUP BY k",
}

// FuzzSQL feeds random and mutated SQL to the parser and planner: they never panic, every
// error is a riverbed error with a kind, and every plan they produce binds in the engine.
func FuzzSQL(f *testing.F) {
	for _, s := range sqlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if len(q) > 4000 {
			return
		}
		_, _, err := compileAndBind(t, q)
		if err != nil {
			var re *rberr.Error
			if !errors.As(err, &re) || re.Kind == rberr.Internal {
				t.Fatalf("%q: error without a kind or internal: %v", q, err)
			}
		}
	})
}

func TestSQLSeeds(t *testing.T) {
	for _, s := range sqlSeeds {
		if _, _, err := compileAndBind(t, s); err != nil {
			var re *rberr.Error
			if !errors.As(err, &re) {
				t.Errorf("%q: %v", s, err)
			}
		}
	}
}
