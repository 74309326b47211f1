package microtest_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

// The reference wrappers hold inproc to the whole spec where inproc does
// not meet it yet (header policy, default deadline, error normalisation,
// nil bodies and errors, Start after Stop), so that the suite's self-test
// proves every case passable and every fault caught. They go once inproc is
// built on the transport kit.

var errServerStopped = errors.New("micro: server stopped")

// refServer is an inproc Server whose Start after Stop fails.
type refServer struct {
	*inproc.Server
	mu      sync.Mutex
	stopped bool
}

func (s *refServer) Start(ctx context.Context) error {
	s.mu.Lock()
	stopped := s.stopped
	s.mu.Unlock()
	if stopped {
		return errServerStopped
	}
	return s.Server.Start(ctx)
}

func (s *refServer) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return s.Server.Stop(ctx)
}

// reference is the server side: nil bodies, a writable ReplyHeader, and a
// nil pointer error taken for no error.
func reference(next micro.Endpoint) micro.Endpoint {
	return micro.HandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
		if len(req) == 0 {
			req = nil
		}
		if info := micro.RequestInfoFrom(ctx); info.ReplyHeader == nil {
			info.ReplyHeader = micro.Header{}
		}
		resp, err := next.Handle(ctx, req)
		if isNilPointer(err) {
			err = nil
		}
		return resp, err
	})
}

func isNilPointer(err error) bool {
	v := reflect.ValueOf(err)
	return err != nil && v.Kind() == reflect.Pointer && v.IsNil()
}

// refClient is the client side: names and headers checked before sending,
// the default deadline, reply headers checked, codes and messages
// normalised, nil replies.
type refClient struct{ micro.Client }

func (c refClient) Call(ctx context.Context, ns, svc string, req []byte) ([]byte, error) {
	if err := checkRequest(ctx, ns, svc); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
	}
	_, asked := micro.OutgoingHeader(ctx)
	got := micro.Header{}
	resp, err := c.Client.Call(micro.WithReplyHeader(ctx, got), ns, svc, req)
	for k, v := range got {
		if msg := checkHeader(strings.ToLower(k), v); msg != "" {
			return nil, micro.Errorf(micro.Internal, "reply header %q: %s", strings.ToLower(k), msg)
		}
	}
	for k, v := range got {
		asked.Set(k, v)
	}
	if err != nil {
		e := micro.ErrorOf(err)
		code, msg := e.Code, strings.ToValidUTF8(e.Message, "\uFFFD")
		if code < micro.Canceled || code > micro.Unauthenticated {
			code = micro.Unknown
		}
		if len(msg) > 16<<10 {
			i := 16 << 10
			for i > 0 && !utf8.RuneStart(msg[i]) {
				i--
			}
			msg = msg[:i]
		}
		return nil, micro.NewError(code, msg)
	}
	if len(resp) == 0 {
		resp = nil
	}
	return resp, nil
}

func (c refClient) Send(ctx context.Context, ns, svc string, msg []byte) error {
	if err := checkRequest(ctx, ns, svc); err != nil {
		return err
	}
	return c.Client.Send(ctx, ns, svc, msg)
}

func checkRequest(ctx context.Context, ns, svc string) error {
	if !micro.ValidName(ns) || !micro.ValidName(svc) {
		return micro.Errorf(micro.InvalidArgument, "invalid route %q.%q", ns, svc)
	}
	h, _ := micro.OutgoingHeader(ctx)
	if len(h) > 64 {
		return micro.Errorf(micro.InvalidArgument, "%d request headers, at most 64", len(h))
	}
	for k, v := range h {
		if msg := checkHeader(k, v); msg != "" {
			return micro.Errorf(micro.InvalidArgument, "header %q%s", k, msg)
		}
	}
	return nil
}

var reservedPrefixes = []string{"micro-", "nats-", "grpc-", "connect-", ":"}

var reservedKeys = strings.Fields(`content-type content-length content-encoding accept-encoding
	connection keep-alive proxy-authenticate proxy-authorization proxy-connection te trailer
	transfer-encoding upgrade host user-agent`)

func isReserved(k string) bool {
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	for _, r := range reservedKeys {
		if k == r {
			return true
		}
	}
	return false
}

// checkHeader returns why the lower-case key k or its value v is refused,
// or "".
func checkHeader(k, v string) string {
	if isReserved(k) {
		return " is reserved"
	}
	if msg := checkAlphabet(k, v); msg != "" {
		return ": " + msg
	}
	return ""
}

func checkAlphabet(k, v string) string {
	ok := len(k) >= 1 && len(k) <= 128 && !strings.HasSuffix(k, "-bin")
	for i := 0; i < len(k); i++ {
		c := k[i]
		ok = ok && ('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-')
	}
	if !ok {
		return "key must be 1-128 bytes of [a-z0-9._-], not ending in -bin"
	}
	if len(v) > 4096 {
		return fmt.Sprintf("value of %d bytes, at most 4096", len(v))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "value must be printable ASCII"
		}
	}
	if strings.HasPrefix(v, " ") || strings.HasSuffix(v, " ") {
		return "value must not start or end with a space"
	}
	return ""
}
