package micro

import (
	"encoding/json"
	"fmt"
)

// Codec encodes the typed requests and replies of [Typed] endpoints and of
// [Invoke]. Its content type travels as the request header "content-type",
// so that an endpoint answers a body in another encoding with
// InvalidArgument rather than misreading it. Implementations are safe for
// concurrent use.
type Codec interface {
	// ContentType names the encoding: "application/json".
	ContentType() string
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the default Codec: encoding/json, "application/json".
var JSONCodec Codec = jsonCodec{}

type jsonCodec struct{}

func (jsonCodec) ContentType() string                { return "application/json" }
func (jsonCodec) Marshal(v any) ([]byte, error)      { return json.Marshal(v) }
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// DecodeError is the error of a typed client given a reply it cannot
// decode: the handler answered, but not with a Type.
type DecodeError struct {
	Type        string // the Go type of the reply, "orders.Order"
	ContentType string // the codec's
	Err         error  // the codec's error
}

// Error says which type could not be decoded and why.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("micro: decode %s reply as %s: %v", e.ContentType, e.Type, e.Err)
}

// Unwrap returns the codec's error.
func (e *DecodeError) Unwrap() error { return e.Err }
