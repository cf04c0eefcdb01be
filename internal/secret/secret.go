// Package secret owns the one type credbatch uses for every secret: API
// tokens, temporary passwords, reset links and the passwords and answers a
// manifest carries.
//
// A String prints as [REDACTED] through every path Go offers for printing a
// value (fmt verbs, %#v, slog, encoding/json, encoding.TextMarshaler). Only an
// explicit call to Reveal gives the value back; the report, checkpoint and
// HTTP client are the only callers that should need it.
package secret

import (
	"fmt"
	"log/slog"
)

// Redacted is what a String prints instead of its value.
const Redacted = "[REDACTED]"

// String holds a secret value. The zero value is the empty secret.
type String struct {
	v string
}

// New wraps s as a secret.
func New(s string) String { return String{v: s} }

// Reveal returns the secret value. Call it only where the value must reach
// its one legitimate destination (the wire, the report, the checkpoint).
func (s String) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s String) IsZero() bool { return s.v == "" }

// Equal reports whether two secrets hold the same value.
func (s String) Equal(o String) bool { return s.v == o.v }

// String implements fmt.Stringer.
func (s String) String() string { return Redacted }

// GoString implements fmt.GoStringer, so %#v does not print the field.
func (s String) GoString() string { return "secret.String(" + Redacted + ")" }

// Format implements fmt.Formatter: every verb prints [REDACTED].
func (s String) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(Redacted))
}

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON implements json.Marshaler.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by encoding/json for map
// keys, by encoding/xml and by other encoders).
func (s String) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
