package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Role says which client an options map configures: some keys apply to the
// source or the sink only.
type Role int

const (
	// SourceRole: a consumer (read_kafka).
	SourceRole Role = iota
	// SinkRole: a producer (write_kafka).
	SinkRole
)

// ClientConfig is what ParseOptions makes of a user's options: the franz-go
// client options, and the settings the source or sink applies itself.
type ClientConfig struct {
	Opts []kgo.Opt
	// Source settings.
	ReadUncommitted bool
	MaxPollRecords  int
	Discovery       time.Duration // partition.discovery.interval.ms; 0: the default
	NoDiscovery     bool          // partition.discovery.interval.ms <= 0: never look for new partitions
	// Sink settings.
	TransactionTimeout time.Duration
	DeliveryTimeout    time.Duration // delivery.timeout.ms, or DefaultDeliveryTimeout
}

// DefaultDeliveryTimeout bounds how long a sink tries to deliver a record (the Java
// producer's delivery.timeout.ms default).
const DefaultDeliveryTimeout = 2 * time.Minute

// optionKeys are the keys ParseOptions takes, the Kafka client property
// names a Flink (and librdkafka) user knows, with what they configure.
var optionKeys = map[string]Role{
	"client.id": -1, "security.protocol": -1, "sasl.mechanism": -1, "sasl.username": -1, "sasl.password": -1,
	"sasl.jaas.config": -1, "ssl.ca.location": -1, "ssl.certificate.location": -1, "ssl.key.location": -1,
	"ssl.endpoint.identification.algorithm": -1, "request.timeout.ms": -1, "metadata.max.age.ms": -1,
	"isolation.level": SourceRole, "max.poll.records": SourceRole, "fetch.max.bytes": SourceRole,
	"max.partition.fetch.bytes": SourceRole, "fetch.max.wait.ms": SourceRole,
	"partition.discovery.interval.ms": SourceRole,
	"transaction.timeout.ms":          SinkRole, "compression.type": SinkRole, "linger.ms": SinkRole,
	"delivery.timeout.ms": SinkRole,
	"batch.size":          SinkRole, "max.request.size": SinkRole,
}

// OptionKeys lists the keys ParseOptions takes for role, sorted.
func OptionKeys(role Role) []string {
	var ks []string
	for k, r := range optionKeys {
		if r == -1 || r == role {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

var jaasField = regexp.MustCompile(`(username|password)\s*=\s*"((?:[^"\\]|\\.)*)"`)

// ParseOptions turns Kafka client properties (string values, as Flink's
// properties.* and librdkafka take them) into a ClientConfig. An unknown key,
// or a key of the other role, is an error that lists the known ones: an
// option is never silently ignored.
func ParseOptions(opts map[string]string, role Role) (ClientConfig, error) {
	var c ClientConfig
	bad := func(k, v, want string) error {
		return rberr.New(rberr.InvalidArgument, "kafka option %q: %q is not %s", k, v, want)
	}
	ms := func(k, v string) (time.Duration, error) {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, bad(k, v, "a number of milliseconds")
		}
		return time.Duration(n) * time.Millisecond, nil
	}
	positive := func(k, v string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n <= 0 {
			return 0, bad(k, v, "a positive integer")
		}
		return n, nil
	}
	if role == SinkRole {
		// Records that cannot be delivered (a broker down or unreachable) fail the write
		// after this long, as the Java producer's delivery.timeout.ms; the client would
		// retry them forever. The sink applies it (kgo.RecordDeliveryTimeout counts from a
		// record's timestamp, which may be an event time long past).
		c.DeliveryTimeout = DefaultDeliveryTimeout
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var (
		protocol, mechanism, user, pass string
		tlsCfg                          *tls.Config
		certFile, keyFile               string
	)
	for _, k := range keys {
		v := opts[k]
		r, ok := optionKeys[k]
		if !ok || (r != -1 && r != role) {
			what := "read_kafka"
			if role == SinkRole {
				what = "write_kafka"
			}
			return c, rberr.New(rberr.InvalidArgument, "kafka option %q is not one %s takes; it takes %s", k, what, strings.Join(OptionKeys(role), ", "))
		}
		var err error
		switch k {
		case "client.id":
			c.Opts = append(c.Opts, kgo.ClientID(v))
		case "security.protocol":
			protocol = strings.ToUpper(strings.TrimSpace(v))
			switch protocol {
			case "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL":
			default:
				return c, bad(k, v, "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
			}
		case "sasl.mechanism":
			mechanism = strings.ToUpper(strings.TrimSpace(v))
			switch mechanism {
			case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			default:
				return c, bad(k, v, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
			}
		case "sasl.username":
			user = v
		case "sasl.password":
			pass = v
		case "sasl.jaas.config":
			for _, m := range jaasField.FindAllStringSubmatch(v, -1) {
				val := strings.ReplaceAll(strings.ReplaceAll(m[2], `\"`, `"`), `\\`, `\`)
				if m[1] == "username" {
					user = val
				} else {
					pass = val
				}
			}
		case "ssl.ca.location":
			pem, rerr := os.ReadFile(v)
			if rerr != nil {
				return c, rberr.Wrap(rberr.IO, rerr, "kafka option %q", k)
			}
			if tlsCfg == nil {
				tlsCfg = &tls.Config{}
			}
			tlsCfg.RootCAs = x509.NewCertPool()
			if !tlsCfg.RootCAs.AppendCertsFromPEM(pem) {
				return c, bad(k, v, "a file of PEM certificates")
			}
		case "ssl.certificate.location":
			certFile = v
		case "ssl.key.location":
			keyFile = v
		case "ssl.endpoint.identification.algorithm":
			if tlsCfg == nil {
				tlsCfg = &tls.Config{}
			}
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "", "none":
				tlsCfg.InsecureSkipVerify = true // as Kafka's empty value: no host name check
			case "https":
			default:
				return c, bad(k, v, `"https" or "" (no host name verification)`)
			}
		case "request.timeout.ms":
			var d time.Duration
			if d, err = ms(k, v); err == nil {
				c.Opts = append(c.Opts, kgo.RequestTimeoutOverhead(d))
			}
		case "metadata.max.age.ms":
			var d time.Duration
			if d, err = ms(k, v); err == nil {
				c.Opts = append(c.Opts, kgo.MetadataMaxAge(d))
			}
		case "isolation.level":
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "read_committed":
			case "read_uncommitted":
				c.ReadUncommitted = true
			default:
				return c, bad(k, v, "read_committed or read_uncommitted")
			}
		case "max.poll.records":
			c.MaxPollRecords, err = positive(k, v)
		case "fetch.max.bytes":
			var n int
			if n, err = positive(k, v); err == nil {
				c.Opts = append(c.Opts, kgo.FetchMaxBytes(int32(min(n, 1<<30))))
			}
		case "max.partition.fetch.bytes":
			var n int
			if n, err = positive(k, v); err == nil {
				c.Opts = append(c.Opts, kgo.FetchMaxPartitionBytes(int32(min(n, 1<<30))))
			}
		case "fetch.max.wait.ms":
			var d time.Duration
			if d, err = ms(k, v); err == nil {
				c.Opts = append(c.Opts, kgo.FetchMaxWait(d))
			}
		case "partition.discovery.interval.ms":
			var d time.Duration
			if d, err = ms(k, v); err == nil {
				if d <= 0 {
					c.NoDiscovery = true
				} else {
					c.Discovery = d
				}
			}
		case "transaction.timeout.ms":
			c.TransactionTimeout, err = ms(k, v)
		case "delivery.timeout.ms":
			var d time.Duration
			if d, err = ms(k, v); err == nil {
				if d <= 0 {
					return c, bad(k, v, "a positive number of milliseconds")
				}
				c.DeliveryTimeout = d
			}
		case "compression.type":
			var codec kgo.CompressionCodec
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "none":
				codec = kgo.NoCompression()
			case "gzip":
				codec = kgo.GzipCompression()
			case "snappy":
				codec = kgo.SnappyCompression()
			case "lz4":
				codec = kgo.Lz4Compression()
			case "zstd":
				codec = kgo.ZstdCompression()
			default:
				return c, bad(k, v, "none, gzip, snappy, lz4 or zstd")
			}
			c.Opts = append(c.Opts, kgo.ProducerBatchCompression(codec))
		case "linger.ms":
			var d time.Duration
			if d, err = ms(k, v); err == nil {
				c.Opts = append(c.Opts, kgo.ProducerLinger(d))
			}
		case "batch.size", "max.request.size":
			var n int
			if n, err = positive(k, v); err == nil {
				c.Opts = append(c.Opts, kgo.ProducerBatchMaxBytes(int32(min(n, 1<<30))))
			}
		}
		if err != nil {
			return c, err
		}
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return c, rberr.New(rberr.InvalidArgument, "kafka options: ssl.certificate.location and ssl.key.location go together")
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return c, rberr.Wrap(rberr.InvalidArgument, err, "kafka options: client certificate")
		}
		if tlsCfg == nil {
			tlsCfg = &tls.Config{}
		}
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	if protocol == "" {
		protocol = "PLAINTEXT"
		if mechanism != "" || user != "" {
			protocol = "SASL_PLAINTEXT"
		}
	}
	if strings.HasSuffix(protocol, "SSL") {
		if tlsCfg == nil {
			tlsCfg = &tls.Config{}
		}
		c.Opts = append(c.Opts, kgo.DialTLSConfig(tlsCfg))
	} else if tlsCfg != nil {
		return c, rberr.New(rberr.InvalidArgument, "kafka options: ssl.* settings need security.protocol SSL or SASL_SSL, not %s", protocol)
	}
	if strings.HasPrefix(protocol, "SASL") {
		if mechanism == "" {
			mechanism = "PLAIN"
		}
		if user == "" {
			return c, rberr.New(rberr.InvalidArgument, "kafka options: security.protocol %s needs sasl.username and sasl.password (or sasl.jaas.config)", protocol)
		}
		switch mechanism {
		case "PLAIN":
			c.Opts = append(c.Opts, kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			c.Opts = append(c.Opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			c.Opts = append(c.Opts, kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()))
		}
	} else if mechanism != "" || user != "" {
		return c, rberr.New(rberr.InvalidArgument, "kafka options: sasl.* settings need security.protocol SASL_PLAINTEXT or SASL_SSL, not %s", protocol)
	}
	return c, nil
}
