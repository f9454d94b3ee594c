package kafka

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Confluent Schema Registry: the wire format of its serializers (a 0 magic byte, the
// schema id as a 4-byte big-endian integer, then the Avro datum) and the few REST
// endpoints riverbed uses: GET /schemas/ids/{id}, GET /subjects/{subject}/versions/latest
// and POST /subjects/{subject}/versions (register, or look up an equal schema). Subjects
// follow a subject name strategy (SubjectName): "<topic>-value" (TopicNameStrategy, the
// default), the record's full name (RecordNameStrategy) or "<topic>-<full name>"
// (TopicRecordNameStrategy). Credentials in the URL (http://user:password@host:8081) are
// sent as HTTP basic authentication, as the serializers' basic.auth.user.info does, and
// never appear in errors.

// RegistryClient talks to one schema registry. Schemas by id are cached for the life of
// the process (an id never changes its schema). Safe for concurrent use.
type RegistryClient struct {
	base string // without credentials
	user *url.Userinfo
	http *http.Client
	mu   sync.Mutex
	ids  map[int32]*idEntry
}

// idEntry is a schema by id, fetched once (done is closed when schema or err is set).
type idEntry struct {
	done   chan struct{}
	schema string
	err    error
}

var (
	registriesMu sync.Mutex
	registries   = map[string]*RegistryClient{}
)

// Registry returns the client of the registry at base URL u (shared by every reader
// and writer of the process, with its cache).
func Registry(u string) (*RegistryClient, error) {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return nil, rberr.New(rberr.InvalidArgument, "kafka: schema_registry must be an http:// or https:// URL, got %q", u)
	}
	u = strings.TrimRight(u, "/")
	registriesMu.Lock()
	defer registriesMu.Unlock()
	if c, ok := registries[u]; ok {
		return c, nil
	}
	user := p.User
	p.User = nil
	c := &RegistryClient{base: strings.TrimRight(p.String(), "/"), user: user, http: &http.Client{Timeout: 30 * time.Second}, ids: map[int32]*idEntry{}}
	registries[u] = c
	return c, nil
}

// ValueSubject is the subject of a topic's record values (TopicNameStrategy).
func ValueSubject(topic string) string { return topic + "-value" }

// Subject name strategies, as the serializers' value.subject.name.strategy.
const (
	TopicNameStrategy       = "topic"        // <topic>-value
	RecordNameStrategy      = "record"       // the record's full name
	TopicRecordNameStrategy = "topic_record" // <topic>-<the record's full name>
)

// SubjectName is the subject of the values of topic written with Avro record schema
// text under strategy ("" is TopicNameStrategy).
func SubjectName(strategy, topic, schema string) (string, error) {
	switch strategy {
	case "", TopicNameStrategy:
		return ValueSubject(topic), nil
	case RecordNameStrategy, TopicRecordNameStrategy:
		s, err := avro.Parse(schema)
		if err != nil {
			return "", rberr.Wrap(rberr.InvalidArgument, err, "kafka: not a valid Avro schema")
		}
		n, ok := s.(avro.NamedSchema)
		if !ok {
			return "", rberr.New(rberr.InvalidArgument, "kafka: subject name strategy %q needs a named (record) schema", strategy)
		}
		if strategy == RecordNameStrategy {
			return n.FullName(), nil
		}
		return topic + "-" + n.FullName(), nil
	}
	return "", rberr.New(rberr.InvalidArgument, "kafka: subject_name_strategy must be \"topic\", \"record\" or \"topic_record\", got %q", strategy)
}

// errNotFound is a registry's 404: no such schema id or subject.
var errNotFound = errors.New("not found")

func (c *RegistryClient) call(method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return rberr.Wrap(rberr.InvalidArgument, err, "schema registry %s", c.base)
	}
	if c.user != nil {
		pass, _ := c.user.Password()
		req.SetBasicAuth(c.user.Username(), pass)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "schema registry %s", c.base)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return rberr.Wrap(rberr.IO, err, "schema registry %s: %s %s", c.base, method, path)
	}
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("schema registry %s: %s %s: %w (%s)", c.base, method, path, errNotFound, bytes.TrimSpace(data))
	}
	if resp.StatusCode/100 != 2 {
		return rberr.New(rberr.IO, "schema registry %s: %s %s: HTTP %d: %s", c.base, method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return rberr.Wrap(rberr.IO, err, "schema registry %s: %s %s: not a JSON answer", c.base, method, path)
	}
	return nil
}

type registrySchema struct {
	ID         int32  `json:"id"`
	Schema     string `json:"schema"`
	SchemaType string `json:"schemaType"`
	Version    int    `json:"version"`
}

func checkAvro(what string, s registrySchema) error {
	if s.SchemaType != "" && s.SchemaType != "AVRO" {
		return rberr.New(rberr.InvalidArgument, "kafka: %s is a %s schema; riverbed reads Avro from a schema registry", what, s.SchemaType)
	}
	return nil
}

// SchemaByID is the schema (JSON text) of id; a 404 is an error wrapping errNotFound.
// Concurrent calls for one id make one request.
func (c *RegistryClient) SchemaByID(id int32) (string, error) {
	c.mu.Lock()
	e, ok := c.ids[id]
	if !ok {
		e = &idEntry{done: make(chan struct{})}
		c.ids[id] = e
	}
	c.mu.Unlock()
	if ok {
		<-e.done
		return e.schema, e.err
	}
	var got registrySchema
	e.err = c.call(http.MethodGet, fmt.Sprintf("/schemas/ids/%d", id), nil, &got)
	if e.err == nil {
		e.err = checkAvro(fmt.Sprintf("schema id %d", id), got)
	}
	e.schema = got.Schema
	if e.err != nil && !errors.Is(e.err, errNotFound) {
		c.mu.Lock()
		delete(c.ids, id) // asked again next time: the registry may be back
		c.mu.Unlock()
	}
	close(e.done)
	return e.schema, e.err
}

// Latest is the id and schema of the latest version of subject.
func (c *RegistryClient) Latest(subject string) (int32, string, error) {
	var got registrySchema
	if err := c.call(http.MethodGet, "/subjects/"+url.PathEscape(subject)+"/versions/latest", nil, &got); err != nil {
		if errors.Is(err, errNotFound) {
			return 0, "", rberr.New(rberr.InvalidArgument, "kafka: schema registry %s has no subject %q (%v); give the Avro schema with schema=", c.base, subject, err)
		}
		return 0, "", err
	}
	if err := checkAvro(fmt.Sprintf("subject %q", subject), got); err != nil {
		return 0, "", err
	}
	return got.ID, got.Schema, nil
}

// Register registers schema under subject (or finds it there, if an equal one is) and
// returns its id.
func (c *RegistryClient) Register(subject, schema string) (int32, error) {
	var got registrySchema
	if err := c.call(http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions",
		map[string]string{"schema": schema}, &got); err != nil {
		return 0, err
	}
	return got.ID, nil
}

// WireHeader is the 5-byte prefix of a datum of schema id in the registry's wire format.
func WireHeader(id int32) []byte {
	h := make([]byte, 5)
	binary.BigEndian.PutUint32(h[1:], uint32(id))
	return h
}

// registryFatal marks a parse error that must fail the job rather than make the record
// bad: the registry could not be asked.
type registryFatal struct{ err error }

func (e registryFatal) Error() string { return e.err.Error() }
func (e registryFatal) Unwrap() error { return e.err }

// registryAvro reads datums in the registry's wire format, each with the writer schema
// its id names, as the reader schema (Avro's schema resolution, resolve_avro.go).
type registryAvro struct {
	reg     *RegistryClient
	reader  avro.Schema
	writers map[int32]*registryWriter
}

type registryWriter struct {
	p    *avroParser
	conv avroConv // the writer's record into the reader's
	err  error    // the writer schema cannot be read as the reader's
}

func (r *registryAvro) parse(value []byte) ([]any, error) {
	if value == nil {
		return nil, errors.New("null value (tombstone): no Avro datum to read")
	}
	if len(value) < 5 || value[0] != 0 {
		return nil, fmt.Errorf("%w: not in the schema registry's wire format (a 0 byte and a 4-byte schema id before the datum)", errAvro)
	}
	id := int32(binary.BigEndian.Uint32(value[1:5]))
	w, ok := r.writers[id]
	if !ok {
		text, err := r.reg.SchemaByID(id)
		if err != nil {
			if !errors.Is(err, errNotFound) {
				return nil, registryFatal{err}
			}
			w = &registryWriter{err: fmt.Errorf("schema id %d: %v", id, err)} // a bad record
		} else {
			w = r.writer(id, text)
		}
		r.writers[id] = w
	}
	if w.err != nil {
		return nil, w.err
	}
	row, err := w.p.parse(value[5:])
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	out, err := w.conv(row)
	if err != nil {
		return nil, fmt.Errorf("schema id %d: %w", id, err)
	}
	return out.([]any), nil
}

// writer prepares the reading of datums of writer schema text as the reader schema.
func (r *registryAvro) writer(id int32, text string) *registryWriter {
	as, _, err := AvroSchema(text)
	if err != nil {
		return &registryWriter{err: fmt.Errorf("schema id %d: %v", id, err)}
	}
	conv, err := resolveAvro("", as, r.reader)
	if err != nil {
		return &registryWriter{err: fmt.Errorf("the writer schema (id %d) cannot be read as the reader's: %w", id, err)}
	}
	return &registryWriter{p: newAvroParser(as), conv: conv}
}

// AvroWriterParser is the parse function of format Avro for values written with the
// writer schema text and read as the reader schema (Avro's schema resolution): an error
// names the field of the writer schema that cannot be read as the reader's.
func AvroWriterParser(text string, reader avro.Schema) (func([]byte) ([]any, error), error) {
	ws, _, err := AvroSchema(text)
	if err != nil {
		return nil, rberr.Wrap(rberr.InvalidArgument, err, "kafka: the Avro writer schema")
	}
	conv, err := resolveAvro("", ws, reader)
	if err != nil {
		return nil, rberr.Wrap(rberr.InvalidArgument, err, "kafka: the Avro writer schema cannot be read as the reader schema")
	}
	p := newAvroParser(ws)
	return func(value []byte) ([]any, error) {
		if value == nil {
			return nil, errors.New("null value (tombstone): no Avro datum to read")
		}
		row, err := p.parse(value)
		if err != nil {
			return nil, err
		}
		out, err := conv(row)
		if err != nil {
			return nil, err
		}
		return out.([]any), nil
	}, nil
}

// avroRegistryParser is the parse function of format Avro through a registry.
func avroRegistryParser(regURL string, reader avro.Schema) (func([]byte) ([]any, error), error) {
	reg, err := Registry(regURL)
	if err != nil {
		return nil, err
	}
	r := &registryAvro{reg: reg, reader: reader, writers: map[int32]*registryWriter{}}
	return r.parse, nil
}
