package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// The JSON form of a node is one object: the fields every node has (op, id, uid, ref,
// input, inputs) and the operator's own arguments beside them,
//
//	{"op": "filter", "input": {...}, "predicate": {...}}
//
// Node decodes the common fields and keeps the others, unread, as Args (a
// json.RawMessage holding one object); the engine decodes them into the operator's own
// argument type (engine/op_<name>.go), refusing fields the operator does not take. A
// node built in Go sets Args to that type directly. Node writes Args back into the same
// object, so the document keeps its shape either way.

// UnmarshalJSON decodes a node: its common fields, its arguments kept raw in Args.
func (n *Node) UnmarshalJSON(data []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return fmt.Errorf("a plan node must be a JSON object, got %s", jsonKind(data))
	}
	*n = Node{}
	for key, to := range map[string]*string{"op": &n.Op, "id": &n.ID, "uid": &n.UID, "ref": &n.Ref} {
		if raw, ok := fields[key]; ok {
			delete(fields, key)
			if err := json.Unmarshal(raw, to); err != nil {
				return fmt.Errorf("the node field %q must be a string, got %s", key, jsonKind(raw))
			}
		}
	}
	if raw, ok := fields["input"]; ok {
		delete(fields, "input")
		if err := json.Unmarshal(raw, &n.Input); err != nil {
			return err
		}
	}
	if raw, ok := fields["inputs"]; ok {
		delete(fields, "inputs")
		if err := json.Unmarshal(raw, &n.Inputs); err != nil {
			return err
		}
	}
	if len(fields) > 0 {
		args, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		n.Args = json.RawMessage(args)
	}
	return nil
}

// MarshalJSON writes a node as one object: its common fields and its arguments.
func (n *Node) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	put := func(key string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:", key)
		b.Write(raw)
		return nil
	}
	for _, f := range []struct{ key, val string }{{"op", n.Op}, {"id", n.ID}, {"uid", n.UID}, {"ref", n.Ref}} {
		if f.val != "" {
			if err := put(f.key, f.val); err != nil {
				return nil, err
			}
		}
	}
	if n.Args != nil {
		raw, err := json.Marshal(n.Args)
		if err != nil {
			return nil, err
		}
		raw = bytes.TrimSpace(raw)
		if !bytes.Equal(raw, []byte("null")) {
			if len(raw) < 2 || raw[0] != '{' || raw[len(raw)-1] != '}' {
				return nil, fmt.Errorf("the arguments of %s are not a JSON object: %s", n.Op, raw)
			}
			if body := bytes.TrimSpace(raw[1 : len(raw)-1]); len(body) > 0 {
				if b.Len() > 1 {
					b.WriteByte(',')
				}
				b.Write(body)
			}
		}
	}
	if n.Input != nil {
		if err := put("input", n.Input); err != nil {
			return nil, err
		}
	}
	if len(n.Inputs) > 0 {
		if err := put("inputs", n.Inputs); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonKind names the kind of a JSON value, for messages.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
