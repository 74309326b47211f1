// Package micro is a small library for writing microservices.
//
// The business logic of a service is plain handlers, func(ctx, req []byte)
// ([]byte, error), registered on a Mux under a (namespace, service) pair.
// The same Mux is served at once over any number of transports (in-process,
// gRPC, NATS, Kafka), each a Server with Start and Stop, run together by a
// Service, and each with a Client. Errors carry a Code that survives every
// wire; headers and the caller's deadline travel in the context.
package micro

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/dancinggopher/micro/internal/ctxkey"
)

// DefaultShutdownTimeout is how long Service.Run lets its servers drain
// in-flight work when it stops, unless WithShutdownTimeout says otherwise.
const DefaultShutdownTimeout = 10 * time.Second

// ErrRunTwice is returned by a second call of Service.Run.
var ErrRunTwice = errors.New("micro: Service.Run called twice")

// Service runs a service's servers together. Create it with NewService; a
// zero Service is a Service with no name and the default options.
type Service struct {
	name  string
	opts  serviceOptions
	ran   atomic.Bool
	once  sync.Once
	ready chan struct{}
}

// NewService returns a Service called name. The name is the default consumer
// group on Kafka and the service name in NATS discovery.
func NewService(name string, opts ...ServiceOption) *Service {
	o := serviceOptions{logger: discard, shutdownTimeout: DefaultShutdownTimeout}
	for _, opt := range opts {
		opt.applyService(&o)
	}
	return &Service{name: name, opts: o}
}

// init makes a zero Service ready for use.
func (s *Service) init() {
	s.once.Do(func() {
		s.ready = make(chan struct{})
		if s.opts.logger == nil {
			s.opts = serviceOptions{logger: discard, shutdownTimeout: DefaultShutdownTimeout}
		}
	})
}

// Name returns the service's name.
func (s *Service) Name() string { return s.name }

// Ready returns a channel that is closed once every server given to Run
// that implements Readier says it accepts work; servers that do not are
// taken as ready at once. If Run fails first, it is never closed.
func (s *Service) Ready() <-chan struct{} {
	s.init()
	return s.ready
}

// Run starts every server and blocks until the service stops.
//
// When ctx is cancelled, Run stops every server at once, each within the
// whole shutdown timeout, and returns nil if each stopped cleanly, else the
// Stop errors. A cancellation while servers still connect is a stop like any
// other: Run returns nil. If a server fails to start or fails later (its Start returns),
// Run stops the others the same way and returns that server's error, naming
// the server. A Service runs once: a second Run returns ErrRunTwice.
func (s *Service) Run(ctx context.Context, servers ...Server) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrRunTwice
	}
	s.init()
	log := s.opts.logger
	g, gctx := errgroup.WithContext(ctx)
	// Start's ctx carries the Service's values but not ctx's cancellation: a
	// server's setup is ended by its Stop, so that a cancellation during
	// startup is a stop like any other, not a setup failure.
	startCtx := context.WithValue(context.WithoutCancel(ctx), ctxkey.Service,
		&ctxkey.ServiceInfo{Name: s.name, Logger: s.opts.logger})
	var stopping atomic.Bool

	for _, srv := range servers {
		g.Go(func() error {
			err := srv.Start(startCtx)
			switch {
			case stopping.Load() && (err == nil || errors.Is(err, ErrServerStopped)):
				return nil
			case err == nil:
				err = errors.New("stopped serving before Stop was called")
			}
			return fmt.Errorf("micro: %s: %w", serverName(srv), err)
		})
	}
	g.Go(func() error {
		for _, srv := range servers {
			if r, ok := srv.(Readier); ok {
				select {
				case <-r.Ready():
				case <-gctx.Done():
					return nil
				}
			}
		}
		log.Info("micro: service ready", "service", s.name, "servers", len(servers))
		close(s.ready)
		return nil
	})

	<-gctx.Done()
	stopping.Store(true)
	log.Info("micro: service stopping", "service", s.name, "timeout", s.opts.shutdownTimeout)
	// Every server stops at once, so intake ends everywhere together and no
	// server's drain uses up another's budget: each has the whole timeout.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.shutdownTimeout)
	defer cancel()
	stopErrs := make([]error, len(servers))
	var stops sync.WaitGroup
	for i, srv := range servers {
		stops.Go(func() {
			if err := srv.Stop(stopCtx); err != nil {
				log.Error("micro: stop", "server", serverName(srv), "err", err)
				stopErrs[i] = fmt.Errorf("micro: stop %s: %w", serverName(srv), err)
			}
		})
	}
	stops.Wait()
	if err := g.Wait(); err != nil {
		return err
	}
	return errors.Join(stopErrs...)
}

// serverName names a server in errors: its String method, else its type.
func serverName(s Server) string {
	if n, ok := s.(fmt.Stringer); ok {
		return n.String()
	}
	return fmt.Sprintf("%T", s)
}
