package microtest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	kit "github.com/dancinggopher/micro/transport"
	"github.com/dancinggopher/micro/transport/inproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// faults breaks the inproc transport in one way each; the suite must catch
// every one, in the named case.
var faults = map[string]string{
	"drop-headers":       "Headers",
	"lose-codes":         "ErrorCodes",
	"stop-abandons":      "StopDrains",
	"no-deadline":        "Deadline",
	"nil-error":          "NilError",
	"reserved-header":    "ReservedHeaders",
	"invalid-header":     "InvalidHeaders",
	"status-dropped":     "StatusHeaders",
	"message-bytes":      "ErrorMessages",
	"default-deadline":   "DefaultDeadline",
	"send-deadline":      "SendNoDeadline",
	"ctx-not-cancelled":  "CancelAfterReturn",
	"empty-body":         "NilBody",
	"nil-reply-header":   "ReplyHeaderWritable",
	"restart-after-stop": "StartAfterStop",
	"abandoned-reply":    "AbandonedReply",
}

// TestSuiteCatchesFaults runs the suite against each broken transport in a
// child process and checks that it fails where it should.
func TestSuiteCatchesFaults(t *testing.T) {
	if os.Getenv("MICROTEST_FAULT") != "" {
		t.Skip("in the child process")
	}
	for fault, where := range faults {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestConformance$", "-test.v")
			cmd.Env = append(os.Environ(), "MICROTEST_FAULT="+fault)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a transport that does %s", fault)
			}
			if !strings.Contains(string(out), "--- FAIL: TestConformance/"+where+" ") {
				t.Fatalf("fault %s did not fail %s:\n%s", fault, where, out)
			}
		})
	}
}

// transport is inproc, the reference, broken as fault says ("" for
// whole).
func transport(fault string) microtest.Transport {
	return microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			mux.Use(breakServer(fault))
			srv := inproc.NewServer(mux, inproc.WithMaxMessageSize(1<<10))
			microtest.Serve(t, nil, srv)
			c := &broken{Client: inproc.NewClient(srv), fault: fault}
			switch fault {
			case "stop-abandons":
				return abandoning{srv}, c
			case "restart-after-stop":
				return restarting{srv}, c
			}
			return srv, c
		},
		MaxMessageSize: 1 << 10,
	}
}

// TestConformance runs the suite against inproc, broken as MICROTEST_FAULT
// says, or whole.
func TestConformance(t *testing.T) {
	microtest.Run(t, transport(os.Getenv("MICROTEST_FAULT")))
}

// TestStress runs the battery three times at once.
func TestStress(t *testing.T) {
	if os.Getenv("MICROTEST_FAULT") != "" {
		t.Skip("in the child process")
	}
	microtest.Stress(t, transport(""), 3)
}

// TestSkip checks that Skip skips every case by its name: no case may call
// New.
func TestSkip(t *testing.T) {
	skip := map[string]string{}
	for _, name := range microtest.Names() {
		skip[name] = "skipped by TestSkip"
	}
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, _ *micro.Mux) (micro.Server, micro.Client) {
			t.Fatal("a skipped case called New")
			return nil, nil
		},
		Skip: skip,
	})
}

// broken is a client that breaks the transport as fault says.
type broken struct {
	micro.Client
	fault string
}

func (b *broken) Call(ctx context.Context, ns, svc string, req []byte) ([]byte, error) {
	var refuse error
	switch b.fault {
	case "drop-headers":
		var done func()
		ctx, done = rebuild(ctx, func(string, string) bool { return false })
		defer done()
	case "no-deadline":
		ctx = context.Background()
	case "default-deadline":
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
		}
	case "reserved-header", "invalid-header", "status-dropped":
		var done func()
		ctx, done, refuse = b.late(ctx)
		defer done()
	}
	resp, err := b.Client.Call(ctx, ns, svc, req)
	switch {
	case refuse != nil:
		return nil, refuse
	case err != nil && b.fault == "lose-codes":
		err = micro.NewError(micro.Unknown, err.Error())
	case err != nil && b.fault == "message-bytes":
		err = micro.NewError(micro.CodeOf(err), strings.TrimSpace(kit.ErrorOf(err).Message))
	case err == nil && resp == nil && b.fault == "empty-body":
		resp = []byte{}
	}
	return resp, err
}

func (b *broken) Send(ctx context.Context, ns, svc string, msg []byte) error {
	var refuse error
	switch b.fault {
	case "reserved-header", "invalid-header", "status-dropped":
		var done func()
		ctx, done, refuse = b.late(ctx)
		defer done()
	}
	if err := b.Client.Send(ctx, ns, svc, msg); err != nil {
		return err
	}
	return refuse
}

// late sends without the headers the fault is about and refuses them only
// after sending (status-dropped drops "status" silently).
func (b *broken) late(ctx context.Context) (context.Context, func(), error) {
	var refuse error
	ctx, done := rebuild(ctx, func(k, v string) bool {
		var bad bool
		switch b.fault {
		case "reserved-header":
			bad = kit.Reserved(k)
		case "invalid-header":
			bad = !kit.Reserved(k) && kit.CheckHeader(k, v) != nil
		case "status-dropped":
			return k != "status"
		}
		if bad {
			refuse = kit.CheckHeader(k, v)
		}
		return !bad
	})
	return ctx, done, refuse
}

// rebuild returns a context with ctx's deadline, cancellation and reply
// Header, and the request headers keep accepts.
func rebuild(ctx context.Context, keep func(k, v string) bool) (context.Context, func()) {
	base, cancel := context.WithCancel(context.Background())
	if d, ok := ctx.Deadline(); ok {
		cancel()
		base, cancel = context.WithDeadline(context.Background(), d)
	}
	stop := context.AfterFunc(ctx, cancel)
	h, reply := kit.OutgoingHeader(ctx)
	for k, v := range h {
		if keep(k, v) {
			base = micro.WithHeader(base, k, v)
		}
	}
	if reply != nil {
		base = micro.WithReplyHeader(base, reply)
	}
	return base, func() { stop(); cancel() }
}

// breakServer returns the middleware that breaks the server side as fault
// says.
func breakServer(fault string) micro.Middleware {
	return func(next micro.Endpoint) micro.Endpoint {
		return micro.HandlerFunc(func(ctx context.Context, req []byte) ([]byte, error) {
			switch fault {
			case "nil-error":
				resp, err := next.Handle(ctx, req)
				if err != nil && reflect.ValueOf(err).Kind() == reflect.Pointer && reflect.ValueOf(err).IsNil() {
					err = micro.NewError(micro.Unknown, "<nil>")
				}
				return resp, err
			case "nil-reply-header":
				micro.RequestInfoFrom(ctx).ReplyHeader = nil
			case "send-deadline":
				if _, ok := ctx.Deadline(); !ok {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, time.Minute)
					defer cancel()
				}
			case "abandoned-reply":
				resp, err := next.Handle(ctx, req)
				if ctx.Err() != nil { // Stop gave up on this handler: drop its reply
					return nil, micro.NewError(micro.Unavailable, "connection closed")
				}
				return resp, err
			case "ctx-not-cancelled":
				var detach func()
				ctx, detach = detached(ctx)
				defer detach()
			}
			return next.Handle(ctx, req)
		})
	}
}

// leaked holds the cancel funcs of the ctx-not-cancelled fault, which by
// design are not called while its child process runs.
var leaked struct {
	sync.Mutex
	cancels []context.CancelFunc
}

// detached returns a ctx that follows ctx until detach is called, and is
// then cancelled only at ctx's deadline (or in an hour).
func detached(ctx context.Context) (_ context.Context, detach func()) {
	d, ok := ctx.Deadline()
	if !ok {
		d = time.Now().Add(time.Hour)
	}
	c, cancel := context.WithDeadline(context.WithoutCancel(ctx), d)
	leaked.Lock()
	leaked.cancels = append(leaked.cancels, cancel)
	leaked.Unlock()
	stop := context.AfterFunc(ctx, cancel)
	return c, func() { stop() }
}

// abandoning is a Server whose Stop does not wait for in-flight calls.
type abandoning struct{ micro.Server }

func (a abandoning) Stop(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.Server.Stop(ctx)
	return nil
}

// restarting is a Server whose Start after Stop pretends to serve again.
type restarting struct{ micro.Server }

func (r restarting) Start(ctx context.Context) error {
	if err := r.Server.Start(ctx); !errors.Is(err, micro.ErrServerStopped) {
		return err
	}
	return nil
}
