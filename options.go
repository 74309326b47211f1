package micro

import (
	"log/slog"
	"time"
)

// MuxOption configures a Mux; see [NewMux].
type MuxOption interface{ applyMux(*muxOptions) }

// ServiceOption configures a Service; see [NewService].
type ServiceOption interface{ applyService(*serviceOptions) }

// Option configures both a Mux and a Service.
type Option interface {
	MuxOption
	ServiceOption
}

type muxOptions struct {
	logger *slog.Logger
}

type serviceOptions struct {
	logger          *slog.Logger
	shutdownTimeout time.Duration
}

var discard = slog.New(slog.DiscardHandler)

type loggerOption struct{ l *slog.Logger }

func (o loggerOption) applyMux(m *muxOptions) {
	if o.l != nil {
		m.logger = o.l
	}
}

func (o loggerOption) applyService(s *serviceOptions) {
	if o.l != nil {
		s.logger = o.l
	}
}

// WithLogger sets the logger: for a Mux, of handler panics (with their
// stack); for a Service, of its lifecycle, and the default of its servers.
// The default discards; a nil l keeps the default.
func WithLogger(l *slog.Logger) Option { return loggerOption{l} }

type serviceFunc func(*serviceOptions)

func (f serviceFunc) applyService(o *serviceOptions) { f(o) }

// WithShutdownTimeout sets how long [Service.Run] lets each of its servers
// drain in-flight work when it stops; the default is
// [DefaultShutdownTimeout]. A d of zero or less gives no time: in-flight
// handlers see their ctx cancelled at once.
func WithShutdownTimeout(d time.Duration) ServiceOption {
	return serviceFunc(func(o *serviceOptions) { o.shutdownTimeout = max(d, 0) })
}
