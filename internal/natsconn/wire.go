package natsconn

import (
	"strings"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// Header names of the wire contract. The error headers are those of the
// NATS services protocol, so that nats.go's micro clients and the nats CLI
// read micro's errors, and a reply reads the same over core NATS and
// JetStream.
const (
	HeaderDeadline  = "Micro-Deadline"          // the caller's deadline, Unix milliseconds
	HeaderErrorCode = "Nats-Service-Error-Code" // the micro.Code number
	HeaderError     = "Nats-Service-Error"      // the message, transport.EscapeValue'd
)

// Subject returns the subject of a route, "[prefix.]namespace.service". A
// service of "*" gives the namespace's wildcard, "" its subjects' stem.
func Subject(prefix, namespace, service string) string {
	if prefix == "" {
		return namespace + "." + service
	}
	return prefix + "." + namespace + "." + service
}

// CheckPrefix refuses, with an InvalidArgument *micro.Error naming
// transport, a WithPrefix that is not '.'-separated tokens of
// [A-Za-z0-9_-]+: a wildcard or an empty token would make subjects that
// match other prefixes' requests, or none. "" is no prefix.
func CheckPrefix(transportName, prefix string) error {
	if prefix == "" {
		return nil
	}
	for tok := range strings.SplitSeq(prefix, ".") {
		if !transport.ValidName(tok) {
			return micro.Errorf(micro.InvalidArgument, "%s: invalid prefix %q (want '.'-separated tokens of [A-Za-z0-9_-]+)", transportName, prefix)
		}
	}
	return nil
}

// WriteError puts e in h as the services protocol's error headers. The
// message is escaped, since NATS header values lose CR, LF and outer
// spaces; ordinary text is unchanged.
func WriteError(h natsgo.Header, e *micro.Error) {
	code, msg := transport.WireError(e)
	h[HeaderErrorCode] = []string{code}
	h[HeaderError] = []string{transport.EscapeValue(msg)}
}

// ReadError returns the *micro.Error that a reply's headers carry, or nil.
func ReadError(h natsgo.Header) *micro.Error {
	code := h[HeaderErrorCode]
	if len(code) == 0 {
		return nil
	}
	return transport.ParseError(code[0], transport.UnescapeValue(h.Get(HeaderError)))
}
