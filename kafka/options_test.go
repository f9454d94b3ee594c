package kafka

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Options are taken by their Kafka property names; what the client cannot apply as given is
// an error naming the key, never ignored.
func TestParseOptions(t *testing.T) {
	c, err := ParseOptions(map[string]string{
		"isolation.level": "read_uncommitted", "max.poll.records": "50", "partition.discovery.interval.ms": "250",
		"client.id": "x", "security.protocol": "sasl_plaintext", "sasl.mechanism": "SCRAM-SHA-512",
		"sasl.jaas.config": `org.apache.kafka.common.security.scram.ScramLoginModule required username="u" password="p\"q";`,
	}, SourceRole)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ReadUncommitted || c.MaxPollRecords != 50 || c.Discovery != 250*time.Millisecond || c.NoDiscovery || len(c.Opts) != 2 {
		t.Fatalf("%+v", c)
	}
	if c, err = ParseOptions(map[string]string{"partition.discovery.interval.ms": "0"}, SourceRole); err != nil || !c.NoDiscovery {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err = ParseOptions(map[string]string{"transaction.timeout.ms": "60000", "compression.type": "zstd"}, SinkRole); err != nil || c.TransactionTimeout != time.Minute {
		t.Fatalf("%+v %v", c, err)
	}
	// A sink's records time out (DefaultDeliveryTimeout, or delivery.timeout.ms after it).
	if c, err = ParseOptions(nil, SinkRole); err != nil || c.DeliveryTimeout != DefaultDeliveryTimeout {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err = ParseOptions(map[string]string{"delivery.timeout.ms": "5000"}, SinkRole); err != nil || c.DeliveryTimeout != 5*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts map[string]string
		role Role
		want string
	}{
		{map[string]string{"no.such": "1"}, SourceRole, `kafka option "no.such" is not one read_kafka takes; it takes client.id`},
		{map[string]string{"linger.ms": "5"}, SourceRole, `"linger.ms" is not one read_kafka takes`},
		{map[string]string{"isolation.level": "read_uncommitted"}, SinkRole, `is not one write_kafka takes`},
		{map[string]string{"isolation.level": "dirty"}, SourceRole, `"dirty" is not read_committed or read_uncommitted`},
		{map[string]string{"max.poll.records": "-1"}, SourceRole, "not a positive integer"},
		{map[string]string{"security.protocol": "TLS"}, SourceRole, "not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
		{map[string]string{"security.protocol": "SASL_SSL"}, SourceRole, "needs sasl.username and sasl.password"},
		{map[string]string{"sasl.username": "u", "security.protocol": "SSL"}, SourceRole, "sasl.* settings need security.protocol SASL"},
		{map[string]string{"ssl.endpoint.identification.algorithm": ""}, SourceRole, "ssl.* settings need security.protocol SSL"},
		{map[string]string{"ssl.ca.location": ca, "security.protocol": "SSL"}, SourceRole, "not a file of PEM certificates"},
		{map[string]string{"ssl.certificate.location": ca, "security.protocol": "SSL"}, SourceRole, "go together"},
		{map[string]string{"compression.type": "brotli"}, SinkRole, "not none, gzip, snappy, lz4 or zstd"},
		{map[string]string{"delivery.timeout.ms": "0"}, SinkRole, "not a positive number of milliseconds"},
		{map[string]string{"delivery.timeout.ms": "100"}, SourceRole, `"delivery.timeout.ms" is not one read_kafka takes`},
	} {
		if _, err := ParseOptions(tc.opts, tc.role); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.opts, err, tc.want)
		}
	}
}
