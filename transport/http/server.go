package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/lifecycle"
	"github.com/dancinggopher/micro/transport"
)

// Server serves a Mux over HTTP on a listener of its own, with GET /healthz
// and GET /readyz beside the routes. Create it with NewServer; its methods
// are safe for concurrent use.
type Server struct {
	*lifecycle.Server
	h      *Handler
	cfg    serverConfig
	cfgErr error // a malformed option, returned by Start
	mux    *micro.Mux

	// Setup sets hs and lis before the server is ready; the other hooks
	// run after it.
	hs  *http.Server
	lis net.Listener

	mu   sync.Mutex
	addr net.Addr
}

// NewServer returns a Server for mux. It listens once Start is called.
func NewServer(mux *micro.Mux, opts ...ServerOption) *Server {
	s := &Server{cfg: newServerConfig(opts), mux: mux}
	prefix, err := checkPrefix(s.cfg.prefix)
	s.cfgErr = err
	s.Server = lifecycle.New("http", s.cfg.concurrency, lifecycle.Hooks{
		Setup: s.setup, Serve: s.serve, Drain: s.drain, Release: s.release,
	})
	s.h = newHandler(mux, &s.cfg, prefix, s.Server.Gate())
	s.h.srv = s.Server
	return s
}

// String returns "http".
func (s *Server) String() string { return "http" }

// Addr returns the address the Server listens on, or nil before it is
// Ready.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start listens, then serves until Stop and returns nil. A listen error (a
// port in use) or a malformed option is returned at once; ctx bounds the
// listen and its values reach the handlers. Start after Stop returns
// micro.ErrServerStopped, and a second Start an error.
func (s *Server) Start(ctx context.Context) error { return s.Server.Start(ctx) }

// Stop makes GET /readyz fail, keeps serving for WithDrainDelay, then calls
// http.Server.Shutdown: the listener closes, idle connections close, and
// in-flight calls and one-way messages finish until ctx ends. Then it
// cancels their contexts and returns ctx's error; what they finish later
// is still replied, and connections are closed after them. It is
// idempotent: a second Stop waits for the work the first gave up on.
func (s *Server) Stop(ctx context.Context) error { return s.Server.Stop(ctx) }

func (s *Server) setup(ctx context.Context) error {
	if s.cfgErr != nil {
		if s.cfg.lis != nil {
			_ = s.cfg.lis.Close() // the Server owns it
		}
		return s.cfgErr
	}
	log := s.cfg.log
	if log == nil {
		log = transport.Logger(ctx)
	}
	s.h.d.Logger = log
	lis := s.cfg.lis
	if lis == nil {
		var err error
		if lis, err = new(net.ListenConfig).Listen(ctx, "tcp", s.cfg.addr); err != nil {
			return fmt.Errorf("http: listen: %w", err)
		}
	}
	s.hs = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		TLSConfig:         s.cfg.tls.Clone(),
		ReadHeaderTimeout: s.cfg.readHeaderTimeout,
		IdleTimeout:       s.cfg.idleTimeout,
		MaxHeaderBytes:    s.cfg.maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.lis = lis
	s.mu.Lock()
	s.addr = lis.Addr()
	s.mu.Unlock()
	return nil
}

// serve serves until Shutdown. Without TLS, net/http speaks HTTP/1.1 only:
// h2c is not offered, since Shutdown does not wait for its connections.
func (s *Server) serve(<-chan struct{}) error {
	var err error
	if s.hs.TLSConfig != nil {
		err = s.hs.ServeTLS(s.lis, "", "")
	} else {
		err = s.hs.Serve(s.lis)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// drain waits out the drain delay, then shuts the server down gracefully.
func (s *Server) drain(ctx context.Context) error {
	if d := s.cfg.drainDelay; d > 0 {
		wait, cancel := context.WithTimeout(ctx, d)
		<-wait.Done()
		cancel()
		if err := ctx.Err(); err != nil {
			_ = s.hs.Shutdown(ctx) // stop intake all the same
			return err
		}
	}
	return s.shutdown(ctx)
}

// shutdownPass bounds one pass of http.Server.Shutdown in shutdown.
const shutdownPass = time.Second

// shutdown is http.Server.Shutdown, in passes: net/http sends HTTP/2's
// GOAWAY once, at the start of a pass, so an HTTP/2 connection whose TLS
// handshake ended after it would stay open until ctx ends; the next pass
// sends it its GOAWAY. (HTTP/1 connections are closed once idle in any
// pass.)
func (s *Server) shutdown(ctx context.Context) error {
	for {
		pass, cancel := context.WithTimeout(ctx, shutdownPass)
		err := s.hs.Shutdown(pass)
		cancel()
		if err == nil || ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// release runs once no handler is in flight: it lets the last replies
// reach their connections, then closes what is left.
func (s *Server) release(ctx context.Context) error {
	err := s.shutdown(ctx)
	_ = s.hs.Close()
	_ = s.lis.Close() // if Stop came before Serve took it
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	return nil
}

// ready reports whether the server accepts work: started and not stopping.
func (s *Server) ready() bool {
	select {
	case <-s.Ready():
		return !s.Stopping()
	default:
		return false
	}
}

// serveHTTP serves the health endpoints, the route listing and the routes.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		s.health(w, r, true)
		return
	case "/readyz":
		s.health(w, r, s.ready())
		return
	case "/routes":
		if s.cfg.routes {
			s.listRoutes(w, r)
			return
		}
	}
	s.h.ServeHTTP(w, r)
}

// health answers GET or HEAD with 200 "ok" or 503 "unavailable".
func (s *Server) health(w http.ResponseWriter, r *http.Request, ok bool) {
	if !s.onlyGet(w, r) {
		return
	}
	status, body := http.StatusOK, "ok\n"
	if !ok {
		status, body = http.StatusServiceUnavailable, "unavailable\n"
	}
	hd := w.Header()
	hd["Content-Type"] = []string{"text/plain; charset=utf-8"}
	hd["Cache-Control"] = []string{"no-store"}
	s.h.write(w, status, []byte(body))
}

// route is one entry of GET /routes.
type route struct {
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	Path      string `json:"path"`
}

// listRoutes answers GET /routes with the Mux's routes as JSON.
func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) {
	if !s.onlyGet(w, r) {
		return
	}
	rs := []route{}
	for _, rt := range s.mux.Routes() {
		rs = append(rs, route{rt.Namespace, rt.Service, s.h.prefix + "/" + rt.Namespace + "/" + rt.Service})
	}
	body, _ := json.Marshal(rs)
	w.Header()["Content-Type"] = []string{"application/json"}
	s.h.write(w, http.StatusOK, append(body, '\n'))
}

// onlyGet answers 405 to a method other than GET or HEAD.
func (s *Server) onlyGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	s.h.writeStatus(w, http.StatusMethodNotAllowed, micro.Errorf(micro.Unimplemented, "method %s not allowed on %s (want GET)", r.Method, r.URL.Path))
	return false
}
