package nats

import (
	"context"
	"errors"
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// connect returns the connection given with WithConn, or dials one with the
// URL and options; owned reports whether the caller must close it. ctx bounds
// the dial: if it ends first, the connection is closed once it arrives.
func (o *options) connect(ctx context.Context, name string) (nc *natsgo.Conn, owned bool, err error) {
	if o.conn != nil {
		if o.conn.IsClosed() {
			return nil, false, micro.Errorf(micro.Unavailable, "nats: the connection given with WithConn is closed")
		}
		return o.conn, false, nil
	}
	opts := append([]natsgo.Option{natsgo.Name(name), natsgo.MaxReconnects(-1)}, o.connOpts...)
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
			return nil, false, connectError(o.url, r.err)
		}
		return r.nc, true, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, false, micro.Errorf(micro.CodeOf(ctx.Err()), "nats: connect %s: %w", o.url, ctx.Err())
	}
}

// connectError types a dial failure: bad credentials are Unauthenticated or
// PermissionDenied, anything else Unavailable.
func connectError(url string, err error) error {
	code := micro.Unavailable
	switch {
	case errors.Is(err, natsgo.ErrAuthorization), errors.Is(err, natsgo.ErrAuthExpired),
		errors.Is(err, natsgo.ErrAuthRevoked), errors.Is(err, natsgo.ErrAccountAuthExpired):
		code = micro.Unauthenticated
	case errors.Is(err, natsgo.ErrPermissionViolation):
		code = micro.PermissionDenied
	}
	return micro.Errorf(code, "nats: connect %s: %w", url, err)
}

// subject returns the subject of a route: [prefix.]namespace.service. A
// service of "*" gives the namespace's wildcard.
func subject(prefix, namespace, service string) string {
	if prefix == "" {
		return namespace + "." + service
	}
	return prefix + "." + namespace + "." + service
}

// checkPrefix refuses a WithPrefix that is not '.'-separated tokens of
// [A-Za-z0-9_-]: a wildcard or an empty token would make subjects that
// match other prefixes' requests, or none.
func checkPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	for tok := range strings.SplitSeq(prefix, ".") {
		if !transport.ValidName(tok) {
			return micro.Errorf(micro.InvalidArgument, "nats: invalid subject prefix %q (want '.'-separated tokens of [A-Za-z0-9_-]+)", prefix)
		}
	}
	return nil
}
