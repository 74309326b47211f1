// Package natsconn is what the NATS and JetStream transports share about
// their NATS connection: the WithConn/WithURL/WithConnOptions settings and
// the dial they drive, the ownership of the connection, a flush bounded by
// a ctx, and the wire's header names and error headers. Only
// transport/nats and transport/jetstream import it, so that nats.go stays
// out of every other package.
package natsconn

import (
	"context"
	"errors"
	"log/slog"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
)

// Config is how a Server or Client gets its connection. The zero value
// dials nats.DefaultURL.
type Config struct {
	Conn    *natsgo.Conn    // WithConn: used as given, never closed
	URL     string          // WithURL: the url argument of nats.Connect
	Options []natsgo.Option // WithConnOptions: after the transport's defaults
}

// Connect returns the Config's Conn, or dials one with its URL and the
// options nats.Name(name), nats.MaxReconnects(-1), then opts, then the
// Config's Options, so that the caller's override the transport's. ctx
// bounds the dial: if it ends first, the connection is closed once it
// arrives. transport names the package in errors ("nats: connect …"),
// which are *micro.Error: bad credentials Unauthenticated, a permission
// violation PermissionDenied, ctx ending its code, anything else
// Unavailable, as is a Conn that is already closed.
func (c *Config) Connect(ctx context.Context, transport, name string, opts ...natsgo.Option) (*Conn, error) {
	if c.Conn != nil {
		if c.Conn.IsClosed() {
			return nil, micro.Errorf(micro.Unavailable, "%s: the connection given with WithConn is closed", transport)
		}
		return &Conn{NC: c.Conn, transport: transport}, nil
	}
	url := c.URL
	if url == "" {
		url = natsgo.DefaultURL
	}
	opts = append(append([]natsgo.Option{natsgo.Name(name), natsgo.MaxReconnects(-1)}, opts...), c.Options...)
	type result struct {
		nc  *natsgo.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := natsgo.Connect(url, opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, micro.Errorf(connectCode(r.err), "%s: connect %s: %w", transport, url, r.err)
		}
		return &Conn{NC: r.nc, transport: transport, owned: true}, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, micro.Errorf(micro.CodeOf(ctx.Err()), "%s: connect %s: %w", transport, url, ctx.Err())
	}
}

// connectCode types a dial failure.
func connectCode(err error) micro.Code {
	switch {
	case errors.Is(err, natsgo.ErrAuthorization), errors.Is(err, natsgo.ErrAuthExpired),
		errors.Is(err, natsgo.ErrAuthRevoked), errors.Is(err, natsgo.ErrAccountAuthExpired):
		return micro.Unauthenticated
	case errors.Is(err, natsgo.ErrPermissionViolation):
		return micro.PermissionDenied
	}
	return micro.Unavailable
}

// Conn is the connection of a Server or Client: the one given with
// WithConn, which it never closes, or one it dialled and owns. Its methods
// are not safe for concurrent use with each other: a Server calls Watch in
// setup and Stop in release.
type Conn struct {
	NC *natsgo.Conn // the connection

	transport string
	owned     bool
	status    chan natsgo.Status // CLOSED events of NC, once watched
	closed    chan struct{}
}

// Owned reports whether Connect dialled the connection, so that Close
// closes it.
func (c *Conn) Owned() bool { return c.owned }

// Close closes the connection, flushing what is buffered first, if Connect
// dialled it; a WithConn connection stays open.
func (c *Conn) Close() {
	if c.owned {
		c.NC.Close()
	}
}

// Watch returns a channel that is closed once the connection closes for
// good (at once if it is already closed), until Stop stops watching.
func (c *Conn) Watch() <-chan struct{} {
	c.status = c.NC.StatusChanged(natsgo.CLOSED)
	c.closed = make(chan struct{})
	go func(status <-chan natsgo.Status, closed chan<- struct{}) {
		if _, ok := <-status; ok {
			close(closed)
		}
	}(c.status, c.closed)
	if c.NC.IsClosed() {
		c.NC.RemoveStatusListener(c.status) // the watcher then returns
		c.status = nil
		close(c.closed)
	}
	return c.closed
}

// Stop ends a Server's use of the connection: it flushes what was
// published, bounded by ctx (see [Flush]), unless the connection is down,
// when it stays in nats.go's reconnect buffer; a failed flush is logged to
// log unless ctx ended. It then stops watching and closes the connection
// if Connect dialled it.
func (c *Conn) Stop(ctx context.Context, log *slog.Logger) {
	if c.NC.IsConnected() {
		if err := Flush(ctx, c.NC); err != nil && ctx.Err() == nil {
			log.Warn(c.transport+": flush at stop", "err", err)
		}
	}
	if c.status != nil {
		c.NC.RemoveStatusListener(c.status)
	}
	c.Close()
}

// Flush waits until the NATS server has processed everything published on
// nc, bounded by ctx and, if ctx has no deadline, by nats.go's usual 10 s.
func Flush(ctx context.Context, nc *natsgo.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	return nc.FlushWithContext(ctx)
}
