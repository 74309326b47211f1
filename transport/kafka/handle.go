package kafka

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// handle serves one record: the handler with retries, then the reply or
// the dead letter. It reports whether the record is finished, that is,
// whether its offset may be committed.
func (s *Server) handle(w *worker, r *kgo.Record) bool {
	in := &w.in
	parse(r, w.ns, &w.names, in)
	defer func() { w.in = incoming{} }() // keep no record's memory past its handling
	rep, finished := s.dispatch(w, r, in)
	if !finished && s.Base().Err() == nil {
		return false // stopped during a backoff: the next owner retries it
	}
	// A handler cancelled because Stop gave up still answers its caller,
	// but its record is consumed again.
	if in.replyTo != "" {
		// The error of a request-reply record is its caller's: answered,
		// it is neither dead-lettered nor retried by the next owner.
		return s.reply(r, in, rep) && finished
	}
	if !finished {
		return false
	}
	if rep.Err != nil {
		return s.deadLetter(r, in, rep.Err)
	}
	return true
}

// dispatch runs the handler, each attempt a Dispatcher.Serve, retrying
// retryable errors (see retries). finished is false if the worker was
// stopped during a backoff, or Stop gave up on the handler. A record
// refused before its handler ran (malformed, over the size limit) fails at
// once.
//
// Each attempt's RequestInfo.Attrs yield r's partition and offset, the
// group and the attempt's number, from 1, and its RequestInfo.Outcome
// foretells, by the same rules, what handle does with the record. Both are
// w's, built once, and read w's record in flight and attempt (they may be
// used only while the attempt runs), so that neither allocates.
func (s *Server) dispatch(w *worker, r *kgo.Record, in *incoming) (rep transport.Reply, finished bool) {
	req := &in.req
	req.Outcome, req.ReplyHeader, req.Attrs = w.outcome, w.replyHeader, w.attrs
	w.offset = r.Offset
	for attempt := 0; ; attempt++ {
		w.attempt = attempt
		rep = s.d.Serve(s.Base(), req)
		if rep.Err == nil || req.Err != nil || len(req.Body) > s.o.max {
			return rep, true
		}
		if s.Base().Err() != nil {
			return rep, false
		}
		if !s.retries(req, attempt, rep.Err) {
			return rep, true
		}
		t := time.NewTimer(s.o.retry.Delay(attempt))
		select {
		case <-t.C:
		case <-w.quit:
			t.Stop()
			return rep, false
		}
	}
}

// retries reports whether a record whose attempt (from 0) failed with e is
// tried again: a retryable code, attempts left, a record the server could
// read and serve at all, and a backoff that ends before the caller's
// deadline, so that the caller gets the handler's last error rather than
// DeadlineExceeded.
func (s *Server) retries(req *transport.Request, attempt int, e *micro.Error) bool {
	if e == nil || req.Err != nil || len(req.Body) > s.o.max || !s.o.retry.Retry(attempt, e.Code) {
		return false
	}
	return req.Deadline.IsZero() || time.Now().Add(s.o.retry.Delay(attempt)).Before(req.Deadline)
}

// outcome tells what handle does with a record whose attempt (from 0)
// ended with e; see [micro.RequestInfo.Outcome].
func (s *Server) outcome(in *incoming, attempt int, e *micro.Error) string {
	return transport.Outcome(e, func() bool { return s.retries(&in.req, attempt, e) }, in.replyTo != "", s.o.deadLetter != "")
}

// reply produces the reply to a request and waits for the broker's
// acknowledgement, at most the produce timeout and the caller's deadline.
// It reports false if the server's client is closed. A reply the broker
// refuses as too large is answered with ResourceExhausted instead; one that
// cannot be delivered (its topic is gone, the caller's deadline passed) is
// logged: no one waits for it. The reply is produced even if Stop gave up
// on the handler, so that its caller hears of it.
func (s *Server) reply(r *kgo.Record, in *incoming, rep transport.Reply) bool {
	rec := &kgo.Record{Topic: in.replyTo, Value: rep.Body}
	rec.Headers = make([]kgo.RecordHeader, 0, len(in.ids)+2+len(rep.Header))
	for _, id := range in.ids {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: hdrCorrelation, Value: id})
	}
	ids := len(rec.Headers)
	for k, v := range rep.Header { // checked by the Dispatcher: none is the transport's
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	if rep.Err != nil {
		rec.Value = nil
		rec.Headers = append(rec.Headers, errorHeaders(rep.Err)...)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.Base()), s.o.produceTimeout)
	defer cancel()
	if !in.req.Deadline.IsZero() {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, in.req.Deadline)
		defer cancelDeadline()
	}
	perr := s.produce(ctx, rec)
	if errors.Is(perr, kerr.MessageTooLarge) || errors.Is(perr, kerr.RecordListTooLarge) {
		rec.Value, rec.Headers = nil, append(rec.Headers[:ids], errorHeaders(micro.Errorf(micro.ResourceExhausted,
			"kafka: reply of %d bytes refused by the broker: %v", len(rep.Body), perr))...)
		perr = s.produce(ctx, rec)
	}
	if perr != nil {
		if errors.Is(perr, kgo.ErrClientClosed) {
			return false
		}
		level := slog.LevelWarn
		if !in.req.Deadline.IsZero() && !time.Now().Before(in.req.Deadline) {
			level = slog.LevelDebug // the caller gave up already
		}
		s.log.Log(ctx, level, "kafka: reply not delivered", "topic", r.Topic, "partition", r.Partition,
			"offset", r.Offset, "reply_to", in.replyTo, "err", perr)
	}
	return true
}

// deadLetter produces a record that failed for good to the dead-letter
// topic, or logs it if there is none. It reports false only if the
// server's client is closed or Stop gave up on the record; a dead letter
// the broker refuses, or does not acknowledge within the produce timeout,
// is logged and the record skipped, so that it does not block its
// partition. A record refused unread (malformed) is logged as an error, a
// handler's failure as a warning.
func (s *Server) deadLetter(r *kgo.Record, in *incoming, e *micro.Error) bool {
	level := slog.LevelWarn
	if in.req.Err != nil {
		level = slog.LevelError
	}
	attrs := []any{"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "service", in.req.Service,
		"code", e.Code.String(), "err", e.Message}
	if s.o.deadLetter == "" {
		s.log.Log(s.Base(), level, "kafka: record failed; skipped", attrs...)
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
	ctx, cancel := context.WithTimeout(s.Base(), s.o.produceTimeout)
	defer cancel()
	if perr := s.produce(ctx, rec); perr != nil {
		if errors.Is(perr, kgo.ErrClientClosed) || s.Base().Err() != nil {
			return false
		}
		s.log.Error("kafka: dead letter not delivered; record skipped", append(attrs, "dead_letter_err", perr)...)
		return true
	}
	s.log.Log(ctx, level, "kafka: record failed; sent to the dead-letter topic", append(attrs, "dead_letter", s.o.deadLetter)...)
	return true
}

// produce produces rec and waits for the broker's acknowledgement until
// ctx ends. Unlike ProduceSync it stops waiting when ctx ends even if kgo
// cannot fail the record yet (an idempotent batch in flight), so ctx's
// deadline is a bound; the record may still be delivered later.
func (s *Server) produce(ctx context.Context, rec *kgo.Record) error {
	done := make(chan error, 1)
	s.cl.Produce(ctx, rec, func(_ *kgo.Record, err error) { done <- err })
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
