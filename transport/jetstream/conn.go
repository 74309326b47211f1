package jetstream

import (
	"context"
	"errors"
	"log/slog"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
)

// errorHandler makes a dialled connection report its asynchronous errors
// to log rather than to stderr; WithConnOptions can override it.
func errorHandler(log *slog.Logger) natsgo.Option {
	return natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
		if sub != nil {
			log.Warn("jetstream: connection error", "subject", sub.Subject, "err", err)
		} else {
			log.Warn("jetstream: connection error", "err", err)
		}
	})
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
