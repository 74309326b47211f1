package kafka

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
	"github.com/dancinggopher/micro/transport"
)

// handle serves one record: the handler with retries, then the reply and
// the dead letter. It reports whether the record is finished, that is,
// whether its offset may be committed.
func (s *Server) handle(w *worker, r *kgo.Record) bool {
	in := parse(r, w.names)
	rc := &recordCtx{Context: s.base, info: micro.RequestInfo{
		Namespace: w.ns, Service: in.service, Transport: "kafka", Header: in.header,
	}}
	info := &rc.info
	if in.replyTo != "" {
		info.ReplyHeader = micro.Header{}
	}
	resp, finished, err := s.serve(w, r, &in, rc)
	if err == nil && len(resp) > s.o.max {
		err = micro.Errorf(micro.ResourceExhausted, "kafka: reply of %d bytes exceeds the limit of %d", len(resp), s.o.max)
	}
	if !finished && s.base.Err() == nil {
		return false // stopped during a backoff: the next owner retries it
	}
	// A handler cancelled because Stop gave up still answers its caller,
	// but its record is consumed again.
	if in.replyTo != "" {
		// The error of a request-reply record is its caller's: answered,
		// it is neither dead-lettered nor retried by the next owner.
		return s.reply(r, &in, info, resp, err) && finished
	}
	if !finished {
		return false
	}
	if err != nil {
		return s.deadLetter(r, &in, err)
	}
	return true
}

// serve runs the handler, retrying retryable errors. finished is false if
// the worker was stopped during a backoff, or Stop gave up on the handler.
// A record that cannot be served at all (no service, too large, a
// malformed deadline) fails at once, without retries.
func (s *Server) serve(w *worker, r *kgo.Record, in *incoming, rc *recordCtx) (resp []byte, finished bool, err error) {
	switch {
	case in.service == "":
		return nil, true, micro.Errorf(micro.InvalidArgument, "kafka: record without a %s header", hdrService)
	case in.badDeadline:
		return nil, true, micro.Errorf(micro.InvalidArgument, "kafka: malformed %s header", hdrDeadline)
	case len(r.Value) > s.o.max:
		return nil, true, micro.Errorf(micro.ResourceExhausted, "kafka: request of %d bytes exceeds the limit of %d", len(r.Value), s.o.max)
	}
	for attempt := 0; ; attempt++ {
		resp, err = s.serveOnce(r, in, rc)
		switch {
		case err == nil:
			return resp, true, nil
		case s.base.Err() != nil:
			return nil, false, err
		case attempt >= s.o.retries || !s.o.retryable[micro.CodeOf(err)]:
			return nil, true, err
		case !in.deadline.IsZero() && !time.Now().Before(in.deadline):
			return nil, true, err
		}
		t := time.NewTimer(s.o.backoffFor(attempt))
		select {
		case <-t.C:
		case <-w.quit:
			t.Stop()
			return nil, false, err
		}
		clear(rc.info.ReplyHeader)
	}
}

// serveOnce runs the handler once.
func (s *Server) serveOnce(r *kgo.Record, in *incoming, rc *recordCtx) ([]byte, error) {
	var ctx context.Context = rc
	if !in.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, in.deadline)
		defer cancel()
	}
	return s.mux.Serve(ctx, rc.info.Namespace, in.service, r.Value)
}

// recordCtx is a handler's context in one allocation: the server's base
// context (Start's values, cancelled when Stop gives up) and the
// RequestInfo, which micro.NewContext would allocate apart.
type recordCtx struct {
	context.Context
	info micro.RequestInfo
}

func (c *recordCtx) Value(key any) any {
	if key == ctxkey.Info {
		return &c.info
	}
	return c.Context.Value(key)
}

// reply produces the reply to a request and waits for the broker's
// acknowledgement. It reports false if the server's client is closed or
// Stop gave up first. A reply the broker refuses as too large is answered
// with ResourceExhausted instead; one that cannot be delivered (its topic is
// gone, the caller's deadline passed) is logged: no one waits for it.
func (s *Server) reply(r *kgo.Record, in *incoming, info *micro.RequestInfo, resp []byte, err error) bool {
	rec := &kgo.Record{Topic: in.replyTo, Value: resp}
	rec.Headers = make([]kgo.RecordHeader, 0, 3+len(info.ReplyHeader))
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: hdrCorrelation, Value: in.correlation})
	for k, v := range info.ReplyHeader {
		if !transportHeader(k) { // a handler cannot forge an error or a correlation
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	if err != nil {
		rec.Value = nil
		rec.Headers = append(rec.Headers, errorHeaders(transport.ErrorOf(err))...)
	}
	ctx := s.base
	if !in.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, in.deadline)
		defer cancel()
	}
	perr := s.cl.ProduceSync(ctx, rec).FirstErr()
	if errors.Is(perr, kerr.MessageTooLarge) || errors.Is(perr, kerr.RecordListTooLarge) {
		rec.Value, rec.Headers = nil, append(rec.Headers[:1], errorHeaders(micro.Errorf(micro.ResourceExhausted,
			"kafka: reply of %d bytes refused by the broker: %v", len(resp), perr))...)
		perr = s.cl.ProduceSync(ctx, rec).FirstErr()
	}
	if perr != nil {
		if errors.Is(perr, kgo.ErrClientClosed) || s.base.Err() != nil {
			return false
		}
		level := slog.LevelWarn
		if errors.Is(perr, context.DeadlineExceeded) {
			level = slog.LevelDebug // the caller gave up already
		}
		s.log.Log(ctx, level, "kafka: reply not delivered", "topic", r.Topic, "partition", r.Partition,
			"offset", r.Offset, "reply_to", in.replyTo, "err", perr)
	}
	return true
}

// deadLetter produces a record that failed for good to the dead-letter
// topic, or logs it if there is none. It reports false only if the
// server's client is closed; a dead letter the broker refuses is logged and
// the record skipped, so that it does not block its partition.
func (s *Server) deadLetter(r *kgo.Record, in *incoming, err error) bool {
	e := transport.ErrorOf(err)
	attrs := []any{"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "service", in.service,
		"code", e.Code.String(), "err", e.Message}
	if s.o.deadLetter == "" {
		s.log.Warn("kafka: record failed; skipped", attrs...)
		return true
	}
	rec := &kgo.Record{Topic: s.o.deadLetter, Key: r.Key, Value: r.Value}
	rec.Headers = make([]kgo.RecordHeader, 0, len(r.Headers)+2)
	for _, h := range r.Headers {
		if k := h.Key; k != hdrErrorCode && k != hdrError {
			rec.Headers = append(rec.Headers, h)
		}
	}
	rec.Headers = append(rec.Headers, errorHeaders(e)...)
	if perr := s.cl.ProduceSync(s.base, rec).FirstErr(); perr != nil {
		if errors.Is(perr, kgo.ErrClientClosed) || s.base.Err() != nil {
			return false
		}
		s.log.Error("kafka: dead letter not delivered; record skipped", append(attrs, "dead_letter_err", perr)...)
		return true
	}
	s.log.Warn("kafka: record failed; sent to the dead-letter topic", append(attrs, "dead_letter", s.o.deadLetter)...)
	return true
}
