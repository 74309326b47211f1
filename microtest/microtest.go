// Package microtest is the conformance suite of micro transports. Run calls
// one battery of behaviour tests against a transport's Server and Client:
// every transport in this module passes it, and a third-party transport
// proves itself with it. The inproc transport is the reference: where this
// suite and inproc agree, that is the spec.
package microtest

import (
	"context"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// Transport describes the transport under test.
type Transport struct {
	// New returns a started Server serving mux and a Client connected to it.
	// It registers with t.Cleanup whatever must be released (Stop is safe to
	// call again). Each test of the suite calls New once with its own Mux.
	New func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client)

	// MaxMessageSize is the request and reply size limit the server and
	// client were configured with; 0 means micro.DefaultMaxMessageSize.
	MaxMessageSize int

	// Features declares what the transport's medium cannot do.
	Features Features
}

// Features declares a transport's gaps. The zero value claims everything;
// each field documents the behaviour the suite then expects instead.
type Features struct {
	// NoReplyHeaders: the reply cannot carry headers, so a handler's
	// ReplyHeader is nil and the caller's reply Header stays empty.
	NoReplyHeaders bool

	// CallAfterStop is the code of a Call made after Stop, where the medium
	// cannot refuse it (on Kafka a request is queued in a topic and no one
	// answers: DeadlineExceeded). Zero means Unavailable.
	CallAfterStop micro.Code

	// UnknownNamespace is the code of a Call to a namespace no server serves,
	// where the medium cannot tell that apart from a stopped server. Zero
	// means NotFound.
	UnknownNamespace micro.Code
}

// Timeout bounds every call the suite makes; a call that hangs fails its
// test with DeadlineExceeded rather than hanging the run.
const Timeout = 20 * time.Second

// Run runs the whole battery as subtests of t.
func Run(t *testing.T, tr Transport) {
	if tr.MaxMessageSize == 0 {
		tr.MaxMessageSize = micro.DefaultMaxMessageSize
	}
	if tr.Features.CallAfterStop == micro.OK {
		tr.Features.CallAfterStop = micro.Unavailable
	}
	if tr.Features.UnknownNamespace == micro.OK {
		tr.Features.UnknownNamespace = micro.NotFound
	}
	s := &suite{tr: tr}
	for _, c := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"RoundTrip", s.roundTrip},
		{"EmptyRequest", s.emptyRequest},
		{"UnknownService", s.unknownService},
		{"UnknownNamespace", s.unknownNamespace},
		{"InvalidName", s.invalidName},
		{"ErrorCodes", s.errorCodes},
		{"PlainError", s.plainError},
		{"Headers", s.headers},
		{"RequestInfo", s.requestInfo},
		{"Deadline", s.deadline},
		{"ExpiredDeadline", s.expiredDeadline},
		{"Panic", s.panics},
		{"Concurrent", s.concurrent},
		{"SizeLimit", s.sizeLimit},
		{"ReplySizeLimit", s.replySizeLimit},
		{"Send", s.send},
		{"StopDrains", s.stopDrains},
		{"StopDeadline", s.stopDeadline},
		{"CallAfterStop", s.callAfterStop},
		{"StopTwice", s.stopTwice},
	} {
		t.Run(c.name, c.f)
	}
}

type suite struct{ tr Transport }

// ctx returns a context bounded by Timeout and by the test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), Timeout)
	t.Cleanup(cancel)
	return c
}
