package micro_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/inproc"
)

type greetRequest struct{ Name string }
type greetReply struct{ Message string }

func serveInproc(t *testing.T, m *micro.Mux) micro.Client {
	t.Helper()
	srv := inproc.NewServer(m)
	done := make(chan error, 1)
	go func() { done <- srv.Start(context.Background()) }()
	t.Cleanup(func() {
		if err := srv.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		<-done
	})
	<-srv.Ready()
	return inproc.NewClient(srv)
}

func TestInvoke(t *testing.T) {
	m := micro.NewMux()
	m.Handle("greeter", "hello", micro.JSON(func(_ context.Context, r greetRequest) (greetReply, error) {
		return greetReply{"Hello, " + r.Name + "!"}, nil
	}))
	m.HandleFunc("greeter", "garbage", func(context.Context, []byte) ([]byte, error) { return []byte("<html>"), nil })
	m.HandleFunc("greeter", "type", func(ctx context.Context, _ []byte) ([]byte, error) {
		return []byte(`{"Message":"` + micro.RequestInfoFrom(ctx).Header.Get("content-type") + `"}`), nil
	})
	greeter := micro.NewStub(serveInproc(t, m), "greeter", nil)

	var reply greetReply
	if err := micro.Invoke(t.Context(), greeter, "hello", greetRequest{"World"}, &reply); err != nil || reply.Message != "Hello, World!" {
		t.Fatalf("Invoke = %+v, %v", reply, err)
	}
	if err := micro.Invoke(t.Context(), greeter, "type", struct{}{}, &reply); err != nil || reply.Message != "application/json" {
		t.Fatalf("the codec's content type did not travel: %+v, %v", reply, err)
	}
	err := micro.Invoke(t.Context(), greeter, "garbage", struct{}{}, &reply)
	if de, ok := errors.AsType[*micro.DecodeError](err); !ok || de.Type != "micro_test.greetReply" {
		t.Fatalf("undecodable reply = %v, want a DecodeError naming micro_test.greetReply", err)
	}
	if err := micro.Invoke(t.Context(), greeter, "hello", func() {}, &reply); micro.CodeOf(err) != micro.InvalidArgument {
		t.Fatalf("unencodable request = %v, want InvalidArgument", err)
	}
	if _, err := serveInproc(t, m).Call(micro.WithHeader(t.Context(), "content-type", "application/json; charset=utf-8"), "greeter", "hello", []byte("{}")); err != nil {
		t.Fatalf("a JSON body with a charset = %v", err)
	}
	_, err = serveInproc(t, m).Call(micro.WithHeader(t.Context(), "content-type", "application/protobuf"), "greeter", "hello", []byte("{}"))
	if micro.CodeOf(err) != micro.InvalidArgument || !strings.Contains(err.Error(), "application/protobuf") {
		t.Fatalf("a body of another encoding = %v, want InvalidArgument naming it", err)
	}
}

// scripted is a Client whose calls fail as told, counting attempts.
type scripted struct {
	micro.Client
	errs     []error
	attempts int
}

func (s *scripted) Call(context.Context, string, string, []byte) ([]byte, error) {
	s.attempts++
	if len(s.errs) == 0 {
		return []byte("ok"), nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return nil, err
}

func (s *scripted) Send(ctx context.Context, ns, svc string, msg []byte) error {
	_, err := s.Call(ctx, ns, svc, msg)
	return err
}

func TestRetry(t *testing.T) {
	refusedStopping := micro.NewError(micro.Unavailable, "server stopping")
	atBound := micro.NewError(micro.ResourceExhausted, "server at its bound of 8 concurrent handlers")
	mayHaveRun := micro.NewError(micro.Unavailable, "connection lost")
	fast := micro.RetryBackoff(time.Millisecond, time.Millisecond)
	for _, c := range []struct {
		name       string
		errs       []error
		idempotent bool
		opts       []micro.RetryOption
		attempts   int
		ok         bool
	}{
		{"refusals are retried", []error{refusedStopping, atBound}, false, nil, 3, true},
		{"the limit holds", []error{refusedStopping, refusedStopping, refusedStopping, refusedStopping}, false, nil, 3, false},
		{"a handler that may have run is not retried", []error{mayHaveRun}, false, nil, 1, false},
		{"unless idempotent", []error{mayHaveRun, mayHaveRun}, true, nil, 3, true},
		{"other codes are not retried", []error{micro.NewError(micro.NotFound, "x")}, true, nil, 1, false},
		{"codes are configurable", []error{micro.NewError(micro.Aborted, "x")}, true, []micro.RetryOption{micro.RetryCodes(micro.Aborted)}, 2, true},
		{"attempts are configurable", []error{refusedStopping, refusedStopping}, false, []micro.RetryOption{micro.RetryAttempts(2)}, 2, false},
		{"one attempt at least", []error{refusedStopping}, false, []micro.RetryOption{micro.RetryAttempts(0)}, 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &scripted{errs: c.errs}
			client := micro.WrapClient(s, micro.Retry(append([]micro.RetryOption{fast}, c.opts...)...))
			ctx := t.Context()
			if c.idempotent {
				ctx = micro.Idempotent(ctx)
			}
			_, err := client.Call(ctx, "a", "b", nil)
			if s.attempts != c.attempts || (err == nil) != c.ok {
				t.Fatalf("attempts = %d, err = %v; want %d attempts, ok=%v", s.attempts, err, c.attempts, c.ok)
			}
		})
	}
}

func TestRetryStopsAtDeadline(t *testing.T) {
	s := &scripted{errs: []error{micro.NewError(micro.Unavailable, "server stopping"), nil}}
	client := micro.WrapClient(s, micro.Retry(micro.RetryBackoff(time.Hour, time.Hour)))
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	_, err := client.Call(ctx, "a", "b", nil)
	if s.attempts != 1 || micro.CodeOf(err) != micro.Unavailable {
		t.Fatalf("a backoff past the deadline: %d attempts, %v; want 1 and the last error", s.attempts, err)
	}
}
