package jetstream_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport/jetstream"
)

func echoMux(ns string) *micro.Mux {
	mux := micro.NewMux()
	mux.HandleFunc(ns, "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	return mux
}

func wantCode(t *testing.T, err error, code micro.Code, contains string) {
	t.Helper()
	var e *micro.Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Message, contains) {
		t.Fatalf("error = %v, want %v containing %q", err, code, contains)
	}
}

// TestStartErrors checks that Start fails, naming the problem, for a
// missing stream without WithCreateStream, a dead-letter subject the server
// consumes, a bad prefix and a missing durable name.
func TestStartErrors(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	for _, tc := range []struct {
		name string
		opts []jetstream.ServerOption
		want string
	}{
		{"missing stream", []jetstream.ServerOption{jetstream.WithDurable("test"), jetstream.WithPrefix(prefix)},
			`stream "` + prefix + `_e" for subjects "` + prefix + `.e.*" does not exist`},
		{"dead letter consumed", []jetstream.ServerOption{jetstream.WithDurable("test"), jetstream.WithPrefix(prefix),
			jetstream.WithCreateStream(), jetstream.WithDeadLetterSubject(prefix + ".e.dead")}, "is one the server consumes"},
		{"bad prefix", []jetstream.ServerOption{jetstream.WithDurable("test"), jetstream.WithPrefix("a..b")}, `invalid prefix "a..b"`},
		{"no durable", []jetstream.ServerOption{jetstream.WithPrefix(prefix), jetstream.WithCreateStream()}, "no durable consumer name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := jetstream.NewServer(echoMux("e"), append(tc.opts, jetstream.WithURL(ns.URL()))...)
			err := srv.Start(within(t, 10*time.Second))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestSendErrors checks the errors of Send and Call for a subject that no
// stream holds and for a message over the stream's max_msg_size.
func TestSendErrors(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	serve(t, ns, echoMux("e"), jetstream.WithPrefix(prefix),
		jetstream.WithStreamConfig(func(c *natsjs.StreamConfig) { c.MaxMsgSize = 1024 }))
	c := newClient(t, ns, jetstream.WithPrefix(prefix))

	err := c.Send(t.Context(), "nowhere", "echo", []byte("x"))
	wantCode(t, err, micro.NotFound, `no stream holds subject "`+prefix+`.nowhere.echo"`)
	_, err = c.Call(t.Context(), "nowhere", "echo", []byte("x"))
	wantCode(t, err, micro.NotFound, "no stream holds subject")

	big := make([]byte, 2048)
	err = c.Send(t.Context(), "e", "echo", big)
	wantCode(t, err, micro.ResourceExhausted, "")
	_, err = c.Call(t.Context(), "e", "echo", big)
	wantCode(t, err, micro.ResourceExhausted, "")

	if resp, err := c.Call(t.Context(), "e", "echo", []byte("small")); err != nil || string(resp) != "small" {
		t.Fatalf("Call after the errors = %q, %v", resp, err)
	}
}

// TestMalformedHeaders publishes requests with a malformed or repeated
// deadline and a repeated reply subject, as a foreign producer could: each
// is answered or dead-lettered with InvalidArgument, without running the
// handler, and terminated rather than redelivered.
func TestMalformedHeaders(t *testing.T) {
	ns := startJS(t)
	prefix := newPrefix()
	dlq := "dead." + prefix
	letters, _ := deadLetters(t, ns, dlq)
	ran := make(chan struct{}, 10)
	mux := micro.NewMux()
	mux.HandleFunc("m", "echo", func(_ context.Context, req []byte) ([]byte, error) {
		ran <- struct{}{}
		return req, nil
	})
	stop := running(t, jetstream.NewServer(mux, jetstream.WithURL(ns.URL()), jetstream.WithDurable("test"), jetstream.WithCreateStream(),
		jetstream.WithPrefix(prefix), jetstream.WithDeadLetterSubject(dlq)))
	nc, js := connect(t, ns)
	replies := make(chan *natsgo.Msg, 10)
	if _, err := nc.ChanSubscribe("replies.>", replies); err != nil {
		t.Fatal(err)
	}
	subj := prefix + ".m.echo"
	publish := func(h natsgo.Header) {
		t.Helper()
		if _, err := js.PublishMsg(within(t, 10*time.Second), &natsgo.Msg{Subject: subj, Header: h, Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	publish(natsgo.Header{"Micro-Deadline": {"soon"}, "Micro-Reply-To": {"replies.1"}})
	if r := receive(t, replies, "reply"); r.Header.Get("Nats-Service-Error-Code") != "3" ||
		!strings.Contains(r.Header.Get("Nats-Service-Error"), `malformed Micro-Deadline header "soon"`) {
		t.Errorf("reply to a malformed deadline: %v", r.Header)
	}
	publish(natsgo.Header{"Micro-Deadline": {"1", "2"}, "Micro-Reply-To": {"replies.2"}})
	if r := receive(t, replies, "reply"); r.Header.Get("Nats-Service-Error-Code") != "3" {
		t.Errorf("reply to a repeated deadline: %v", r.Header)
	}
	publish(natsgo.Header{"Micro-Reply-To": {"replies.3"}, "micro-reply-to": {"replies.4"}})
	if m := receive(t, letters, "dead letter"); m.Header.Get("Nats-Service-Error-Code") != "3" {
		t.Errorf("dead letter of a repeated reply subject: %v", m.Header)
	}
	publish(natsgo.Header{"Micro-Deadline": {"later"}})
	if m := receive(t, letters, "dead letter"); m.Header.Get("Nats-Service-Error-Code") != "3" {
		t.Errorf("dead letter of a malformed one-way deadline: %v", m.Header)
	}
	if stopErr, _ := stop(10 * time.Second); stopErr != nil {
		t.Fatal(stopErr)
	}
	select {
	case <-ran:
		t.Error("the handler ran for a malformed request")
	case r := <-replies:
		t.Errorf("unexpected reply on %s", r.Subject)
	default:
	}
	if info := consumerInfo(t, js, prefix+"_m"); info.NumRedelivered != 0 || info.NumAckPending != 0 {
		t.Errorf("consumer: %d redelivered, %d unacknowledged; want 0, 0", info.NumRedelivered, info.NumAckPending)
	}
}

// TestClientErrors checks a bad prefix, a closed client and a reserved
// header.
func TestClientErrors(t *testing.T) {
	ns := startJS(t)
	if _, err := jetstream.NewClient(jetstream.WithURL(ns.URL()), jetstream.WithPrefix("a.*")); err == nil {
		t.Error("NewClient with prefix a.* succeeded")
	}
	c := newClient(t, ns)
	err := c.Send(micro.WithHeader(t.Context(), "Micro-Reply-To", "x"), "a", "b", nil)
	wantCode(t, err, micro.InvalidArgument, `header "micro-reply-to" is reserved`)
	c.Close()
	wantCode(t, c.Send(t.Context(), "a", "b", nil), micro.Unavailable, "client closed")
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
