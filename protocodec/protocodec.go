// Package protocodec is a micro.Codec for protocol buffers, for typed
// endpoints and clients whose requests and replies are proto messages:
//
//	mux.Handle("orders", "get", micro.Typed(protocodec.Codec, getOrder))
//	err := micro.Invoke(ctx, micro.NewStub(client, "orders", protocodec.Codec), "get", req, &order)
//
// Its content type is "application/proto", as Connect's.
package protocodec

import (
	"fmt"
	"reflect"

	"google.golang.org/protobuf/proto"

	"github.com/dancinggopher/micro"
)

// Codec encodes proto.Message values in the protobuf binary format. Marshal
// and Unmarshal fail for a value that is not a proto.Message (for Unmarshal,
// a pointer to a type whose pointer is one, as Invoke passes, is unwrapped).
var Codec micro.Codec = codec{}

type codec struct{}

func (codec) ContentType() string { return "application/proto" }

func (codec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("protocodec: %T is not a proto.Message", v)
	}
	return proto.Marshal(m)
}

func (codec) Unmarshal(data []byte, v any) error {
	if m, ok := v.(proto.Message); ok {
		return proto.Unmarshal(data, m)
	}
	// A **T, as Typed and Invoke pass for a Req or Resp of type *T: make
	// the *T if it is nil.
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().Kind() == reflect.Pointer && rv.Elem().Type().Implements(messageType) {
		if rv.Elem().IsNil() {
			rv.Elem().Set(reflect.New(rv.Elem().Type().Elem()))
		}
		return proto.Unmarshal(data, rv.Elem().Interface().(proto.Message))
	}
	return fmt.Errorf("protocodec: %T is not a proto.Message", v)
}

var messageType = reflect.TypeFor[proto.Message]()
