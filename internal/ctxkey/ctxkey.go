// Package ctxkey holds the context keys and values that the root package and
// the transport kit share, so that neither exports them.
package ctxkey

import "log/slog"

type (
	infoKey     struct{}
	outgoingKey struct{}
	serviceKey  struct{}
)

// Info is the key of the *micro.RequestInfo of a handler's context.
var Info any = infoKey{}

// Outgoing is the key of the *Outgoing a caller put on its context.
var Outgoing any = outgoingKey{}

// Service is the key of the *Service that a micro.Service puts on the ctx it
// gives to its servers' Start.
var Service any = serviceKey{}

// OutgoingHeaders is what a caller puts on its ctx for the next Call or Send:
// the request headers, and the map to fill with the reply's headers (nil if
// the caller did not ask). The maps are micro.Header values.
type OutgoingHeaders struct {
	Header map[string]string
	Reply  map[string]string
}

// ServiceInfo is what a running micro.Service tells its servers.
type ServiceInfo struct {
	Name   string
	Logger *slog.Logger
}

// The messages of the refusals a server gives before any handler runs. They
// cross the wire byte-identical, so a client can tell a refused request,
// safe to retry, from one whose handler may have run.
const (
	RefusedStopping   = "server stopping"
	RefusedNotRunning = "server not running"
	RefusedBoundFmt   = "server at its bound of %d concurrent handlers"
	RefusedBound      = "server at its bound of "
)
