package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Transitional: operators not yet given their own argument type read them from the
// union fields of Node. DecodeLegacyArgs decodes a node's raw Args into those fields.

type nodeFields Node

// DecodeLegacyArgs decodes n.Args (raw JSON) into the union fields of n and clears Args.
func DecodeLegacyArgs(n *Node) error {
	raw, ok := n.Args.(json.RawMessage)
	if !ok {
		return nil
	}
	common := *n
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode((*nodeFields)(n)); err != nil {
		return err
	}
	n.Op, n.ID, n.UID, n.Ref, n.Input, n.Inputs, n.Args = common.Op, common.ID, common.UID, common.Ref, common.Input, common.Inputs, nil
	return nil
}

// legacyFields is the JSON object of n's union fields.
func legacyFields(n *Node) ([]byte, error) {
	l := nodeFields(*n)
	l.Op, l.ID, l.UID, l.Ref, l.Input, l.Inputs, l.Args = "", "", "", "", nil, nil, nil
	raw, err := json.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.Op, err)
	}
	return raw, nil
}
