package jetstream

import (
	"context"
	"errors"
	"log/slog"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
)

// connect returns the WithConn connection, or dials one that reports its
// asynchronous errors to log rather than to stderr; owned reports whether
// the caller must close it. ctx bounds the dial: if it ends first, the
// connection is closed once it arrives.
func (o *common) connect(ctx context.Context, name string, log *slog.Logger) (nc *natsgo.Conn, owned bool, err error) {
	if o.conn != nil {
		if o.conn.IsClosed() {
			return nil, false, micro.Errorf(micro.Unavailable, "jetstream: the connection given with WithConn is closed")
		}
		return o.conn, false, nil
	}
	opts := append([]natsgo.Option{natsgo.Name(name), natsgo.MaxReconnects(-1),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			if sub != nil {
				log.Warn("jetstream: connection error", "subject", sub.Subject, "err", err)
			} else {
				log.Warn("jetstream: connection error", "err", err)
			}
		}),
	}, o.connOpts...)
	type result struct {
		nc  *natsgo.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := natsgo.Connect(o.url, opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			code := micro.Unavailable
			if errors.Is(r.err, natsgo.ErrAuthorization) || errors.Is(r.err, natsgo.ErrAuthExpired) || errors.Is(r.err, natsgo.ErrAuthRevoked) {
				code = micro.Unauthenticated
			}
			return nil, false, micro.Errorf(code, "jetstream: connect %s: %w", o.url, r.err)
		}
		return r.nc, true, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, false, micro.Errorf(micro.CodeOf(ctx.Err()), "jetstream: connect %s: %w", o.url, ctx.Err())
	}
}

// publishError types a failed JetStream publish of subject.
func publishError(subject string, err error) error {
	code := micro.Unknown
	var apiErr *natsjs.APIError
	switch {
	case errors.Is(err, natsjs.ErrNoStreamResponse), errors.Is(err, natsgo.ErrNoResponders):
		return micro.Errorf(micro.NotFound, "jetstream: no stream holds subject %q: %w", subject, err)
	case errors.Is(err, natsgo.ErrMaxPayload), errors.Is(err, natsjs.ErrStreamMessageExceedsMaximum):
		code = micro.ResourceExhausted
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, natsgo.ErrTimeout):
		code = micro.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = micro.Canceled
	case errors.Is(err, natsgo.ErrBadHeaderMsg), errors.Is(err, natsgo.ErrBadSubject):
		code = micro.InvalidArgument
	case errors.Is(err, natsgo.ErrConnectionClosed), errors.Is(err, natsgo.ErrConnectionDraining),
		errors.Is(err, natsgo.ErrDisconnected), errors.Is(err, natsgo.ErrReconnectBufExceeded),
		errors.Is(err, natsgo.ErrNoServers), errors.Is(err, natsgo.ErrInvalidConnection),
		errors.Is(err, natsjs.ErrJetStreamNotEnabled), errors.Is(err, natsjs.ErrJetStreamNotEnabledForAccount):
		code = micro.Unavailable
	case errors.Is(err, natsgo.ErrPermissionViolation):
		code = micro.PermissionDenied
	case errors.As(err, &apiErr) && apiErr.ErrorCode == natsjs.JSErrCodeStreamMessageExceedsMaximum:
		code = micro.ResourceExhausted
	}
	return micro.Errorf(code, "jetstream: publish %s: %w", subject, err)
}

// flush waits until the NATS server has processed what nc sent, bounded by
// ctx and, if ctx has no deadline, by 10 s.
func flush(ctx context.Context, nc *natsgo.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return nc.FlushWithContext(ctx)
}
