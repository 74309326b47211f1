package transport

import (
	"context"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/dancinggopher/micro"
)

// Dispatcher runs a server's requests on its Mux by the rules every
// transport shares. Its fields are set before the first request and not
// changed after; Serve is safe for concurrent use.
type Dispatcher struct {
	Mux            *micro.Mux
	Transport      string // the RequestInfo.Transport of its requests: "nats"
	MaxMessageSize int    // the request and reply limit; 0 means micro.DefaultMaxMessageSize
	Logger         *slog.Logger
}

// Request is one request as a server read it off its medium.
type Request struct {
	Namespace, Service string
	Header             micro.Header // the user headers, from a HeaderReader
	Deadline           time.Time    // the caller's; zero for none
	Body               []byte
	// OneWay is set for a message with no reply path: its error is logged.
	OneWay bool
	// Caller, if not nil, is a context whose cancellation reaches the
	// handler: the caller's own on inproc, the stream's on gRPC and HTTP.
	Caller context.Context
	// Attrs becomes the RequestInfo.Attrs: what the medium tells of the
	// message (its partition and offset, its delivery attempt), yielded
	// while the handler runs. A transport that serves one message at a
	// time on a goroutine passes one function of the goroutine's that
	// reads the message in flight, so that no message allocates its
	// attributes unless someone asks for them. Nil for none.
	Attrs iter.Seq[slog.Attr]
	// Outcome becomes the RequestInfo.Outcome: what the transport does
	// with the message by its handler's error. Nil for none.
	Outcome func(err error) string
	// CopyBody makes Serve give the handler a copy of Body rather than
	// Body itself, made with the handler's context in one allocation, for
	// a transport whose Body is its caller's memory (inproc). It must not
	// be set if Body may change while Serve runs.
	CopyBody bool
	// ReplyHeader, if not nil, is an empty map that becomes the
	// RequestInfo.ReplyHeader; Serve empties it again before it returns.
	// A transport that serves one request at a time on a goroutine passes
	// the goroutine's own map, reused for each of them; if nil, Serve takes
	// one from a pool shared by all servers.
	ReplyHeader micro.Header
	// Err, if not nil, is why the transport could not read the request (a
	// malformed deadline, a header twice): it is answered without running
	// a handler.
	Err error
}

// Reply is the answer to a Request, ready to map onto the medium.
type Reply struct {
	Body   []byte       // nil when empty
	Header micro.Header // the handler's reply headers; nil if none
	Err    *micro.Error // in wire form (see ErrorOf); nil on success
}

func (d *Dispatcher) max() int {
	if d.MaxMessageSize > 0 {
		return d.MaxMessageSize
	}
	return micro.DefaultMaxMessageSize
}

// Serve runs req's handler with a context made from base: base's values
// and its cancellation (the server's, when Stop gives up on handlers), the
// request's deadline, the caller's cancellation and the RequestInfo. The
// context is cancelled when the handler returns.
//
// A request over the size limit is answered with ResourceExhausted, an
// expired deadline with DeadlineExceeded, an unknown route with NotFound,
// all without running a handler. A handler's nil error, typed nil included,
// is a success; its other errors are in wire form. A reply over the size
// limit becomes ResourceExhausted, and reply headers outside the alphabet
// make the call fail with Internal. Zero-length bodies are nil both ways.
func (d *Dispatcher) Serve(base context.Context, req *Request) Reply {
	if req.Err != nil {
		return d.failed(req, ErrorOf(req.Err))
	}
	if max := d.max(); len(req.Body) > max {
		return d.failed(req, micro.Errorf(micro.ResourceExhausted, "request of %d bytes exceeds the limit of %d", len(req.Body), max))
	}
	ctx, body := newHandlerCtx(req.Body, req.CopyBody)
	ctx.base, ctx.deadline = base, req.Deadline
	replyHeader, pooled := req.ReplyHeader, false
	if replyHeader == nil {
		replyHeader, pooled = replyHeaders.Get().(micro.Header), true
	}
	// Field by field: the context is new and zero, and a RequestInfo
	// literal would be built aside and copied in.
	info := &ctx.info
	info.Namespace, info.Service, info.Transport = req.Namespace, req.Service, d.Transport
	info.Header, info.ReplyHeader, info.OneWay = req.Header, replyHeader, req.OneWay
	info.Attrs, info.Outcome = req.Attrs, req.Outcome
	if info.Attrs == nil {
		info.Attrs = micro.NoAttrs
	}
	if req.Caller != nil && req.Caller.Done() != nil {
		ctx.caller = req.Caller
	}
	resp, err := d.Mux.Serve(ctx, req.Namespace, req.Service, body)
	ctx.finish()

	r := Reply{Err: ErrorOf(err)}
	var herr *micro.Error
	if len(info.ReplyHeader) > 0 {
		r.Header, herr = replyHeaderOf(info.ReplyHeader)
	}
	if pooled {
		recycle(replyHeader)
	} else {
		clear(replyHeader)
	}
	if herr != nil {
		return d.failed(req, herr)
	}
	if r.Err != nil {
		if req.OneWay {
			d.logFailure(req, r.Err)
		}
		return r
	}
	if max := d.max(); len(resp) > max {
		return d.failed(req, micro.Errorf(micro.ResourceExhausted, "reply of %d bytes exceeds the limit of %d", len(resp), max))
	}
	if len(resp) > 0 {
		r.Body = resp
	}
	return r
}

// replyHeaders holds empty maps for the handlers' ReplyHeader, so that a
// handler that sets none costs no map: the Dispatcher copies out what a
// handler set and recycles the map once the handler has returned, which
// is why a handler may write it only until then (see micro.RequestInfo).
var replyHeaders = sync.Pool{New: func() any { return micro.Header{} }}

// maxRecycled is the most headers a recycled map held: a map that grew
// larger is left to the collector rather than kept at its size.
const maxRecycled = 8

// recycle empties h, a map of replyHeaders, and puts it back.
func recycle(h micro.Header) {
	if len(h) > maxRecycled {
		return
	}
	clear(h)
	replyHeaders.Put(h)
}

// replyHeaderOf checks a handler's reply headers and returns a copy of them
// with lower-case keys.
func replyHeaderOf(h micro.Header) (micro.Header, *micro.Error) {
	out := make(micro.Header, len(h))
	for k, v := range h {
		if err := CheckHeader(k, v); err != nil {
			return nil, micro.Errorf(micro.Internal, "reply %s", err.(*micro.Error).Message)
		}
		out[strings.ToLower(k)] = v
	}
	return out, nil
}

func (d *Dispatcher) failed(req *Request, e *micro.Error) Reply {
	if req.OneWay {
		d.logFailure(req, e)
	}
	return Reply{Err: e}
}

func (d *Dispatcher) logFailure(req *Request, e *micro.Error) {
	if d.Logger != nil {
		d.Logger.Warn(d.Transport+": one-way message failed",
			"namespace", req.Namespace, "service", req.Service, "code", e.Code.String(), "err", e.Message)
	}
}
