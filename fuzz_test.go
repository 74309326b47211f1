package micro_test

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// The fuzz targets below cover what the root package decodes from the
// wire: route names (every transport hands the names it read to Mux.Serve,
// and checks them with ValidName), the JSON adapter's request body, and
// request headers. Their seed corpus is under testdata/fuzz and replays in
// every go test run; fuzz one with
//
//	go test -run '^$' -fuzz FuzzRouteNames -fuzztime 60s .

var validName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// FuzzRouteNames registers and serves arbitrary route names: Handle panics,
// with a "micro:" message, exactly when a name is not [A-Za-z0-9_-]+ (or the
// route is taken); a registered route is served and listed; Serve never
// panics and answers a route that is not registered with NotFound, or with
// InvalidArgument if a name is not [A-Za-z0-9_-]+.
func FuzzRouteNames(f *testing.F) {
	f.Add("greeter", "hello", []byte("x"))
	f.Fuzz(func(t *testing.T, namespace, service string, req []byte) {
		if transport.ValidName(namespace) != validName.MatchString(namespace) {
			t.Fatalf("ValidName(%q) = %v", namespace, transport.ValidName(namespace))
		}
		valid := validName.MatchString(namespace) && validName.MatchString(service)
		taken := namespace == "greeter" && service == "hello"

		m := micro.NewMux()
		m.HandleFunc("greeter", "hello", func(context.Context, []byte) ([]byte, error) { return []byte("hello"), nil })
		ctx := context.Background()
		// Before registration the route is unknown, or invalid.
		if !taken {
			if _, err := m.Serve(ctx, namespace, service, req); micro.CodeOf(err) != missing(namespace, service) {
				t.Fatalf("Serve(%q, %q) before Handle: %v, want %v", namespace, service, err, missing(namespace, service))
			}
		}

		panicked := func() (msg any) {
			defer func() { msg = recover() }()
			m.HandleFunc(namespace, service, func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
			return nil
		}()
		if want := !valid || taken; (panicked != nil) != want {
			t.Fatalf("Handle(%q, %q) panicked: %v, want a panic: %v", namespace, service, panicked, want)
		}
		if s, _ := panicked.(string); panicked != nil && !strings.HasPrefix(s, "micro:") {
			t.Fatalf("Handle(%q, %q) panicked with %v, want a \"micro:\" message", namespace, service, panicked)
		}
		registered := valid && !taken
		if got := slices.Contains(m.Routes(), micro.Route{Namespace: namespace, Service: service}); got != (registered || taken) {
			t.Fatalf("Routes lists (%q, %q): %v, want %v", namespace, service, got, registered || taken)
		}
		resp, err := m.Serve(ctx, namespace, service, req)
		switch {
		case registered && (err != nil || string(resp) != string(req)):
			t.Fatalf("Serve(%q, %q) = %q, %v; want the request back", namespace, service, resp, err)
		case !registered && !taken && micro.CodeOf(err) != missing(namespace, service):
			t.Fatalf("Serve(%q, %q) unregistered: %v, want %v", namespace, service, err, missing(namespace, service))
		}
		// Names swapped, and names run together as a transport might
		// split them wrongly: never a panic, and an error unless routed.
		for _, r := range []micro.Route{{Namespace: service, Service: namespace}, {Namespace: namespace + "." + service, Service: ""}} {
			if _, err := m.Serve(ctx, r.Namespace, r.Service, req); err != nil && micro.CodeOf(err) != missing(r.Namespace, r.Service) {
				t.Fatalf("Serve(%q, %q): %v, want %v or a reply", r.Namespace, r.Service, err, missing(r.Namespace, r.Service))
			}
		}
	})
}

// missing is the code Serve answers for a route that is not registered.
func missing(namespace, service string) micro.Code {
	if validName.MatchString(namespace) && validName.MatchString(service) {
		return micro.NotFound
	}
	return micro.InvalidArgument
}

// jsonRequest has the shapes a JSON request body decodes into: strings,
// numbers, lists, nested and optional objects, and anything.
type jsonRequest struct {
	Name   string            `json:"name"`
	Count  int64             `json:"count"`
	Ratio  float64           `json:"ratio"`
	Tags   []string          `json:"tags"`
	Labels map[string]string `json:"labels"`
	Nested *struct {
		OK   bool    `json:"ok"`
		Data []byte  `json:"data"`
		Next *string `json:"next"`
	} `json:"nested"`
	Any any `json:"any"`
}

// FuzzJSON feeds arbitrary request bodies to the JSON adapter: a body that
// encoding/json rejects is InvalidArgument and the function is not called;
// any other body reaches the function decoded as encoding/json decodes it,
// and the reply is its JSON encoding. Never a panic.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"name":"World","count":3}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var got *jsonRequest
		e := micro.JSON(func(_ context.Context, req jsonRequest) (jsonRequest, error) {
			got = &req
			return req, nil
		})
		resp, err := e.Handle(context.Background(), body)

		var want jsonRequest
		if len(body) > 0 {
			if jerr := json.Unmarshal(body, &want); jerr != nil {
				if micro.CodeOf(err) != micro.InvalidArgument || got != nil {
					t.Fatalf("body %q that encoding/json rejects (%v): err %v, function called: %v; want InvalidArgument, not called",
						body, jerr, err, got != nil)
				}
				return
			}
		}
		if err != nil || got == nil {
			t.Fatalf("body %q: err %v, function called: %v", body, err, got != nil)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("body %q decoded as %+v, encoding/json says %+v", body, *got, want)
		}
		var back jsonRequest
		if err := json.Unmarshal(resp, &back); err != nil || !reflect.DeepEqual(back, want) {
			t.Fatalf("reply %q to %q: decodes as %+v (%v), want %+v", resp, body, back, err, want)
		}
	})
}

// FuzzHeader sets an arbitrary request header: it is found again under its
// key in any case, and every key is stored lower-case.
func FuzzHeader(f *testing.F) {
	f.Add("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	f.Fuzz(func(t *testing.T, key, value string) {
		ctx := micro.WithHeader(context.Background(), "x-base", "1")
		ctx = micro.WithHeader(ctx, key, value)
		h, _ := transport.OutgoingHeader(ctx)
		if got := h.Get(key); got != value {
			t.Fatalf("Get(%q) = %q, want %q", key, got, value)
		}
		// Get folds case as Set does: an upper-case key that lower-cases
		// back to the same key finds the value.
		lower, upper := strings.ToLower(key), strings.ToUpper(key)
		if got := h.Get(upper); got != value && strings.ToLower(upper) == lower {
			t.Fatalf("Get(%q) = %q, want %q", upper, got, value)
		}
		for k := range h {
			if k != strings.ToLower(k) {
				t.Fatalf("key %q stored with upper case", k)
			}
		}
		if strings.ToLower(key) != "x-base" && h.Get("x-base") != "1" {
			t.Fatalf("earlier header lost: %v", h)
		}
		if c := h.Clone(); !reflect.DeepEqual(c, h) {
			t.Fatalf("Clone = %v, want %v", c, h)
		}
	})
}
