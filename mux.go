package micro

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/dancinggopher/micro/internal/ctxkey"
)

// Route names one endpoint of a Mux.
type Route struct {
	Namespace string
	Service   string
}

// String returns "namespace.service".
func (r Route) String() string { return r.Namespace + "." + r.Service }

// Mux routes requests by (namespace, service) to endpoints. The zero value
// is an empty Mux that logs nowhere, ready to use; NewMux sets options.
// Registration and serving may run concurrently: Serve reads an immutable
// table through an atomic pointer, so it takes no lock and allocates
// nothing, and Handle or Use publish a new table.
type Mux struct {
	log   *slog.Logger
	table atomic.Pointer[table]

	mu    sync.Mutex // serializes Handle and Use
	raw   map[Route]Endpoint
	where map[Route]string // file:line of each registration
	mws   []Middleware
}

// table maps namespace, then service, to the endpoint wrapped in the
// middleware. Two string-keyed maps hash faster than one keyed by Route.
type table map[string]map[string]Endpoint

// NewMux returns an empty Mux. WithLogger sets where handler panics are
// logged, with their stack; by default they are not logged.
func NewMux(opts ...MuxOption) *Mux {
	o := muxOptions{logger: discard}
	for _, opt := range opts {
		opt.applyMux(&o)
	}
	return &Mux{log: o.logger}
}

// lookup returns the current table, which is empty for a zero Mux.
func (m *Mux) lookup() table {
	if t := m.table.Load(); t != nil {
		return *t
	}
	return nil
}

// Handle registers e for the route (namespace, service). It panics, with a
// message that starts "micro:" and names the route, if a name is not made of
// [A-Za-z0-9_-]+, if e is nil, or if the route is already registered (the
// message then says where it was registered first).
func (m *Mux) Handle(namespace, service string, e Endpoint) {
	m.handle(namespace, service, e, 2)
}

// handle registers e; skip is the number of frames above it to its caller.
func (m *Mux) handle(namespace, service string, e Endpoint, skip int) {
	r := Route{namespace, service}
	switch {
	case !ctxkey.ValidName(namespace):
		panic(fmt.Sprintf("micro: invalid namespace %q in route %s (want [A-Za-z0-9_-]+)", namespace, r))
	case !ctxkey.ValidName(service):
		panic(fmt.Sprintf("micro: invalid service %q in route %s (want [A-Za-z0-9_-]+)", service, r))
	case e == nil:
		panic("micro: nil endpoint for route " + r.String())
	}
	if f, ok := e.(HandlerFunc); ok && f == nil {
		panic("micro: nil endpoint for route " + r.String())
	}
	where := "unknown"
	if _, file, line, ok := runtime.Caller(skip); ok {
		where = file + ":" + strconv.Itoa(line)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.raw[r]; dup {
		panic("micro: route " + r.String() + " registered twice (first at " + m.where[r] + ")")
	}
	if m.raw == nil {
		m.raw, m.where = map[Route]Endpoint{}, map[Route]string{}
	}
	m.raw[r], m.where[r] = e, where
	m.publish()
}

// HandleFunc registers f for the route (namespace, service), as Handle does.
func (m *Mux) HandleFunc(namespace, service string, f func(ctx context.Context, req []byte) ([]byte, error)) {
	if f == nil {
		panic("micro: nil endpoint for route " + Route{namespace, service}.String())
	}
	m.handle(namespace, service, HandlerFunc(f), 2)
}

// Use appends middleware that wraps every route, those registered before the
// call and after it. The first middleware added is outermost.
func (m *Mux) Use(mw ...Middleware) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range mw {
		if f == nil {
			panic("micro: nil middleware")
		}
	}
	m.mws = append(m.mws, mw...)
	m.publish()
}

// publish builds a new table from raw and mws; m.mu must be held.
func (m *Mux) publish() {
	t := table{}
	for r, e := range m.raw {
		for i := len(m.mws) - 1; i >= 0; i-- {
			e = m.mws[i](e)
		}
		if t[r.Namespace] == nil {
			t[r.Namespace] = map[string]Endpoint{}
		}
		t[r.Namespace][r.Service] = e
	}
	m.table.Store(&t)
}

// Serve calls the endpoint of (namespace, service) with ctx and req.
//
// An unknown route is answered with NotFound naming what is missing, and a
// name that is not [A-Za-z0-9_-]+ with InvalidArgument. If ctx
// is already done the endpoint is not called and the answer is Canceled or
// DeadlineExceeded. A panic in the endpoint or its middleware is recovered
// and answered with Internal; the panic and its stack go to the Mux's logger,
// not to the caller. The endpoint's own error is returned as it is.
func (m *Mux) Serve(ctx context.Context, namespace, service string, req []byte) (resp []byte, err error) {
	e, ok := m.lookup()[namespace][service]
	if !ok {
		return nil, m.notFound(namespace, service)
	}
	if err := ctx.Err(); err != nil {
		return nil, errorOf(err)
	}
	defer func() {
		if p := recover(); p != nil {
			resp, err = nil, m.recovered(ctx, namespace, service, p)
		}
	}()
	return e.Handle(ctx, req)
}

// notFound explains why (namespace, service) has no endpoint. Registered
// names are valid, so the names are checked only here, off the hot path.
func (m *Mux) notFound(namespace, service string) error {
	switch {
	case !ctxkey.ValidName(namespace):
		return Errorf(InvalidArgument, "invalid namespace %q (want [A-Za-z0-9_-]+)", namespace)
	case !ctxkey.ValidName(service):
		return Errorf(InvalidArgument, "invalid service %q (want [A-Za-z0-9_-]+)", service)
	case m.lookup()[namespace] == nil:
		return Errorf(NotFound, "no namespace %q", namespace)
	}
	return Errorf(NotFound, "no service %q in namespace %q", service, namespace)
}

func (m *Mux) recovered(ctx context.Context, namespace, service string, p any) error {
	log := m.log
	if log == nil {
		log = discard
	}
	log.ErrorContext(ctx, "micro: handler panicked",
		"namespace", namespace, "service", service, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	return Errorf(Internal, "handler of %s.%s panicked", namespace, service)
}

// Routes returns the registered routes, sorted by namespace then service.
func (m *Mux) Routes() []Route {
	var rs []Route
	for ns, services := range m.lookup() {
		for svc := range services {
			rs = append(rs, Route{ns, svc})
		}
	}
	slices.SortFunc(rs, func(a, b Route) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Service, b.Service))
	})
	return rs
}

// Namespaces returns the namespaces of the registered routes, sorted and
// without repeats. The Kafka transport consumes one topic per namespace.
func (m *Mux) Namespaces() []string {
	var ns []string
	for _, r := range m.Routes() {
		if len(ns) == 0 || ns[len(ns)-1] != r.Namespace {
			ns = append(ns, r.Namespace)
		}
	}
	return ns
}
