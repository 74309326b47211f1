package http

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/lifecycle"
	"github.com/dancinggopher/micro/transport"
)

// Handler serves the routes of a Mux as an http.Handler, for an
// http.Server of your own: mount it on your http.ServeMux beside your other
// routes. It serves POST /[prefix/]namespace/service as a Server does, with
// the same wire contract and limits, but has no lifecycle of its own: your
// server's Shutdown waits for its calls, so it answers a one-way message
// once the handler has returned (a Server answers once admitted). It
// serves no /healthz, /readyz or /routes. Create it with NewHandler; it is
// safe for concurrent use.
type Handler struct {
	d            transport.Dispatcher
	gate         *lifecycle.Gate
	srv          *lifecycle.Server // the Server's lifecycle; nil for NewHandler
	prefix       string
	cors         *cors
	readTimeout  time.Duration
	writeTimeout time.Duration
}

// NewHandler returns a Handler for mux. Of the ServerOptions, those marked
// "NewServer only" are ignored. It panics if WithPrefix's prefix is
// malformed.
func NewHandler(mux *micro.Mux, opts ...ServerOption) *Handler {
	c := newServerConfig(opts)
	prefix, err := checkPrefix(c.prefix)
	if err != nil {
		panic(err.(*micro.Error).Message)
	}
	h := newHandler(mux, &c, prefix, lifecycle.NewGate(c.concurrency))
	h.d.Logger = c.log
	h.gate.Open()
	return h
}

func newHandler(mux *micro.Mux, c *serverConfig, prefix string, gate *lifecycle.Gate) *Handler {
	return &Handler{
		d:    transport.Dispatcher{Mux: mux, Transport: "http", MaxMessageSize: c.max},
		gate: gate, prefix: prefix, cors: newCORS(c.origins),
		readTimeout: c.readTimeout, writeTimeout: c.writeTimeout,
	}
}

// ServeHTTP serves one request: POST to a route runs its handler; any
// other method on a route is 405 with Allow (OPTIONS is CORS's preflight
// when WithCORS is given); any other path is NotFound.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ns, svc, ok := h.route(r.URL.Path)
	if !ok {
		h.writeError(w, micro.Errorf(micro.NotFound, "no route at %q (want POST %s/namespace/service)", r.URL.Path, h.prefix), nil)
		return
	}
	switch {
	case r.Method == http.MethodPost:
		h.serve(w, r, ns, svc)
	case r.Method == http.MethodOptions && h.cors != nil:
		h.cors.preflight(w, r, h)
	default:
		allow := "POST"
		if h.cors != nil {
			allow = "OPTIONS, POST"
		}
		w.Header().Set("Allow", allow)
		h.writeStatus(w, http.StatusMethodNotAllowed, micro.Errorf(micro.Unimplemented, "method %s not allowed on %s (want POST)", r.Method, r.URL.Path))
	}
}

// route returns the namespace and service a path names, if it has the
// shape of a route. Their names are checked when served.
func (h *Handler) route(path string) (ns, svc string, ok bool) {
	if h.prefix != "" {
		if path, ok = strings.CutPrefix(path, h.prefix); !ok {
			return "", "", false
		}
	}
	if len(path) == 0 || path[0] != '/' {
		return "", "", false
	}
	ns, svc, ok = strings.Cut(path[1:], "/")
	if !ok || strings.IndexByte(svc, '/') >= 0 {
		return "", "", false
	}
	return ns, svc, true
}

// serve runs one POST to a route: admission, reading, the handler, reply.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, ns, svc string) {
	exposed := h.cors.annotate(w, r)
	if e := h.gate.Enter(); e != nil {
		h.writeError(w, e, nil)
		return
	}
	held := true
	defer func() { // whatever happens below, the slot is given back
		if held {
			h.gate.Leave()
		}
	}()
	req, e := h.read(w, r, ns, svc)
	if e != nil {
		h.writeError(w, e, nil)
		return
	}
	if req.OneWay {
		held = false // oneWay gives it back
		h.oneWay(w, r, req)
		return
	}
	base := r.Context()
	if h.srv != nil {
		base, req.Caller = h.srv.Base(), r.Context()
	}
	rep := h.d.Serve(base, req)
	held = false
	h.gate.Leave() // a slow reader of the reply holds no handler slot
	if exposed {
		exposeHeaders(w, rep.Header)
	}
	if rep.Err != nil {
		h.writeError(w, rep.Err, rep.Header)
		return
	}
	hd := w.Header()
	ct := r.Header["Content-Type"] // as in Connect, a reply is in its request's format
	for k, v := range rep.Header {
		if k == "content-type" {
			ct = []string{v} // unless the handler says otherwise
			continue
		}
		hd[k] = []string{v}
	}
	hd["Content-Type"] = ct // none, rather than net/http's sniffing
	h.write(w, http.StatusOK, rep.Body)
}

// oneWay runs an admitted one-way message and answers 202: on a Server
// once admitted, the handler running on under the Server's lifecycle; on a
// Handler once it returned.
func (h *Handler) oneWay(w http.ResponseWriter, r *http.Request, req *transport.Request) {
	if h.srv != nil {
		go func() {
			defer h.gate.Leave()
			h.d.Serve(h.srv.Base(), req)
		}()
	} else {
		h.d.Serve(context.WithoutCancel(r.Context()), req) // the sender leaving does not cancel it
		h.gate.Leave()
	}
	h.write(w, http.StatusAccepted, nil)
}

// read maps an HTTP request to a transport.Request: the one-way mark, the
// deadline, the headers and the body, read within the size limit and
// before the read timeout or the deadline.
func (h *Handler) read(w http.ResponseWriter, r *http.Request, ns, svc string) (*transport.Request, *micro.Error) {
	req := &transport.Request{Namespace: ns, Service: svc}
	v, oneWay, err := single(r.Header, headerOneWay)
	if err != nil {
		return nil, transport.ErrorOf(err)
	}
	if oneWay && v != "1" {
		return nil, micro.Errorf(micro.InvalidArgument, "malformed %s header %q (want 1)", headerOneWay, v)
	}
	req.OneWay = oneWay
	if oneWay {
		if err := transport.CheckRoute(ns, svc); err != nil {
			return nil, transport.ErrorOf(err) // refused now: no one hears of it later
		}
	}
	now := time.Now()
	if !oneWay { // a one-way message carries no deadline
		if req.Deadline, err = requestDeadline(r.Header, now); err != nil {
			return nil, transport.ErrorOf(err)
		}
	}
	if ce := r.Header["Content-Encoding"]; len(ce) > 0 && (len(ce) > 1 || ce[0] != "identity") {
		w.Header().Set("Accept-Encoding", "identity")
		return nil, micro.Errorf(micro.Unimplemented, "content-encoding %q is not supported", strings.Join(ce, ","))
	}
	req.Header = userHeaders(r.Header)
	if ct, _, _ := strings.Cut(req.Header["content-type"], ";"); strings.EqualFold(strings.TrimSpace(ct), formType) {
		// What curl -d and HTML forms send when nobody chose a type: it
		// says nothing of the body, so it is not passed on.
		delete(req.Header, "content-type")
	}
	if !req.Deadline.IsZero() && !now.Before(req.Deadline) {
		// Expired: the Dispatcher answers; a body is not read, so the
		// connection closes after the answer rather than wait for it.
		if r.ContentLength != 0 {
			w.Header()["Connection"] = []string{"close"}
		}
		return req, nil
	}
	body, e := h.body(w, r, now, req.Deadline)
	req.Body = body
	return req, e
}

// formType is the Content-Type that curl -d sends by default.
const formType = "application/x-www-form-urlencoded"

// userHeaders returns the headers of a request or response by micro's
// policy (transport.HeaderReader: lower-cased, reserved and framing ones
// dropped, repeats joined), leaving out those its Connection header names
// as hop-by-hop.
func userHeaders(h http.Header) micro.Header {
	var hop []string
	for _, v := range h["Connection"] {
		for tok := range strings.SplitSeq(v, ",") {
			hop = append(hop, strings.TrimSpace(tok))
		}
	}
	var hr transport.HeaderReader
	for k, vs := range h {
		if len(hop) > 0 && slices.ContainsFunc(hop, func(t string) bool { return strings.EqualFold(t, k) }) {
			continue
		}
		for _, v := range vs {
			hr.Add(k, v)
		}
	}
	return hr.Header()
}

// body reads the request body: none over the size limit (refused by its
// Content-Length before reading, else cut by http.MaxBytesReader), and
// before the read timeout or the deadline, whichever is earlier.
func (h *Handler) body(w http.ResponseWriter, r *http.Request, now, deadline time.Time) ([]byte, *micro.Error) {
	limit := h.d.MaxMessageSize
	if limit <= 0 {
		limit = micro.DefaultMaxMessageSize
	}
	if r.ContentLength > int64(limit) {
		return nil, micro.Errorf(micro.ResourceExhausted, "request of %d bytes exceeds the limit of %d", r.ContentLength, limit)
	}
	if r.ContentLength == 0 {
		return nil, nil
	}
	by := deadline
	if h.readTimeout > 0 && (by.IsZero() || now.Add(h.readTimeout).Before(by)) {
		by = now.Add(h.readTimeout)
	}
	rc := http.NewResponseController(w)
	bounded := !by.IsZero() && rc.SetReadDeadline(by) == nil
	src := http.MaxBytesReader(w, r.Body, int64(limit))
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(src, body)
	} else {
		body, err = io.ReadAll(src)
	}
	if bounded && err == nil {
		// Cleared at once: net/http's background read after the body
		// would otherwise cancel the request's context at this deadline.
		// After a failed read it stays, so that net/http's own read of
		// the rest fails too and the connection is closed.
		_ = rc.SetReadDeadline(time.Time{})
	}
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return body, nil
	case errors.As(err, &tooBig):
		return nil, micro.Errorf(micro.ResourceExhausted, "request exceeds the limit of %d bytes", limit)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, micro.Errorf(micro.DeadlineExceeded, "request body not received within %v", by.Sub(now).Round(time.Millisecond))
	case r.Context().Err() != nil:
		return nil, transport.ErrorOf(r.Context().Err())
	}
	return nil, micro.Errorf(micro.InvalidArgument, "reading the request body: %v", err)
}

// writeError writes e, in wire form, as Connect's JSON error body with its
// status, and the handler's reply headers if it ran.
func (h *Handler) writeError(w http.ResponseWriter, e *micro.Error, header micro.Header) {
	hd := w.Header()
	for k, v := range header {
		if k != "content-type" { // the body is the error's, in JSON
			hd[k] = []string{v}
		}
	}
	h.writeStatus(w, 0, e)
}

// writeStatus writes e's JSON body with status, or e's own if 0.
func (h *Handler) writeStatus(w http.ResponseWriter, status int, e *micro.Error) {
	code, body := encodeError(e)
	if status == 0 {
		status = code
	}
	w.Header()["Content-Type"] = []string{"application/json"}
	h.write(w, status, body)
}

// write writes a response with an exact Content-Length and no Date (so
// that a Client sees only the handler's headers), within the write timeout.
func (h *Handler) write(w http.ResponseWriter, status int, body []byte) {
	hd := w.Header()
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	hd["Date"] = nil
	var rc *http.ResponseController
	if h.writeTimeout > 0 {
		if rc = http.NewResponseController(w); rc.SetWriteDeadline(time.Now().Add(h.writeTimeout)) != nil {
			rc = nil
		}
	}
	w.WriteHeader(status)
	if len(body) > 0 {
		_, _ = w.Write(body)
	}
	if rc != nil {
		// Flushed under the deadline, then cleared, so that no stale
		// deadline is left on a keep-alive connection.
		_ = rc.Flush()
		_ = rc.SetWriteDeadline(time.Time{})
	}
}
