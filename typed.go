package micro

import (
	"context"
	"fmt"
	"strings"
)

// JSON adapts a typed function to an Endpoint that decodes the request as a
// JSON Req and encodes the Resp as JSON: Typed with [JSONCodec].
func JSON[Req, Resp any](f func(context.Context, Req) (Resp, error)) Endpoint {
	return Typed(JSONCodec, f)
}

// Typed adapts a typed function to an Endpoint that decodes the request
// with codec and encodes the reply with it. A request whose content-type
// header names another media type (parameters such as charset aside), or that codec cannot decode into a Req, is
// answered with InvalidArgument carrying the reason; f is not called. An
// empty request decodes as Req's zero value. A nil codec is [JSONCodec].
func Typed[Req, Resp any](codec Codec, f func(context.Context, Req) (Resp, error)) Endpoint {
	if codec == nil {
		codec = JSONCodec
	}
	want := codec.ContentType()
	return HandlerFunc(func(ctx context.Context, data []byte) ([]byte, error) {
		if ct := RequestInfoFrom(ctx).Header.Get("content-type"); ct != "" && !sameMediaType(ct, want) {
			return nil, Errorf(InvalidArgument, "request content-type %q, want %q", ct, want)
		}
		var req Req
		if len(data) > 0 {
			if err := codec.Unmarshal(data, &req); err != nil {
				return nil, Errorf(InvalidArgument, "decode request: %v", err)
			}
		}
		resp, err := f(ctx, req)
		if err != nil {
			return nil, err
		}
		out, err := codec.Marshal(resp)
		if err != nil {
			return nil, Errorf(Internal, "encode response: %v", err)
		}
		return out, nil
	})
}

// sameMediaType reports whether the content type ct names the media type
// want, whatever its parameters ("application/json; charset=utf-8").
func sameMediaType(ct, want string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), want)
}

// Stub calls the services of one namespace over a Client, with typed
// requests and replies encoded by a Codec; see [Invoke]. It is safe for
// concurrent use.
type Stub struct {
	client    Client
	namespace string
	codec     Codec
}

// NewStub returns a Stub of namespace over c; a nil codec is [JSONCodec].
func NewStub(c Client, namespace string, codec Codec) *Stub {
	if codec == nil {
		codec = JSONCodec
	}
	return &Stub{client: c, namespace: namespace, codec: codec}
}

// Send encodes msg and sends it one way to service, as [Client.Send] does.
func (s *Stub) Send(ctx context.Context, service string, msg any) error {
	data, err := s.codec.Marshal(msg)
	if err != nil {
		return Errorf(InvalidArgument, "encode request %T: %v", msg, err)
	}
	return s.client.Send(s.withType(ctx), s.namespace, service, data)
}

func (s *Stub) withType(ctx context.Context) context.Context {
	return WithHeader(ctx, "content-type", s.codec.ContentType())
}

// Invoke calls service of the Stub's namespace with req and decodes the
// reply into resp; the types are inferred from the arguments:
//
//	var order Order
//	err := micro.Invoke(ctx, orders, "get", GetOrder{ID: 7}, &order)
//
// A request the codec cannot encode is InvalidArgument, and nothing is
// sent; a handler's error is returned as the Client returns it; a reply
// that cannot be decoded into Resp is a *[DecodeError] naming Resp. An empty
// reply leaves resp unchanged.
func Invoke[Req, Resp any](ctx context.Context, s *Stub, service string, req Req, resp *Resp) error {
	data, err := s.codec.Marshal(req)
	if err != nil {
		return Errorf(InvalidArgument, "encode request %T: %v", req, err)
	}
	out, err := s.client.Call(s.withType(ctx), s.namespace, service, data)
	if err != nil {
		return err
	}
	if len(out) == 0 {
		return nil
	}
	if err := s.codec.Unmarshal(out, resp); err != nil {
		return &DecodeError{Type: fmt.Sprintf("%T", *resp), ContentType: s.codec.ContentType(), Err: err}
	}
	return nil
}
