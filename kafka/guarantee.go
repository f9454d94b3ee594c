package kafka

import (
	"strings"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Delivery guarantees of the Kafka sink, with Flink's names (DeliveryGuarantee,
// sink.delivery-guarantee).
const (
	AtLeastOnce = "at-least-once"
	ExactlyOnce = "exactly-once"
	NoGuarantee = "none"
)

// ParseGuarantee is the delivery guarantee v names, in Flink's spelling: "at-least-once"
// (also for ""), "exactly-once" or "none". Case is ignored, and underscores may stand
// for the hyphens ("exactly_once", as a Python name). Anything else is an error naming
// the valid values.
func ParseGuarantee(v string) (string, error) {
	switch g := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(v)), "_", "-"); g {
	case "":
		return AtLeastOnce, nil
	case AtLeastOnce, ExactlyOnce, NoGuarantee:
		return g, nil
	}
	return "", rberr.New(rberr.Plan, "the delivery guarantee must be %q, %q or %q (underscores for hyphens work too: %q), got %q",
		ExactlyOnce, AtLeastOnce, NoGuarantee, "exactly_once", v)
}
