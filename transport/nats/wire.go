package nats

import (
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/dancinggopher/micro"
)

// Header names of the wire contract. The error headers are those of the NATS
// services protocol, so that nats.go's micro clients and the nats CLI read
// micro's errors.
const (
	hdrDeadline  = "Micro-Deadline"          // the caller's deadline, Unix milliseconds
	hdrErrorCode = "Nats-Service-Error-Code" // the micro.Code number
	hdrError     = "Nats-Service-Error"      // the error message
)

// internalHeader reports whether a header belongs to the transport rather
// than to the caller or handler, whatever the case of its key.
func internalHeader(k string) bool {
	return strings.EqualFold(k, hdrDeadline) || strings.EqualFold(k, hdrErrorCode) || strings.EqualFold(k, hdrError) ||
		strings.EqualFold(k, "Status") || strings.EqualFold(k, "Description") // nats.go's rendering of a status line
}

// fromWire returns h's headers with lower-case keys, the first value of each,
// without transport-internal ones; nil if none remain.
func fromWire(h natsgo.Header) micro.Header {
	var out micro.Header
	for k, vs := range h {
		if len(vs) == 0 || internalHeader(k) {
			continue
		}
		k = strings.ToLower(k)
		if out == nil {
			out = make(micro.Header, len(h))
		}
		out[k] = vs[0]
	}
	return out
}

// toWire adds h's headers to m, creating m.Header if needed.
func toWire(m *natsgo.Msg, h micro.Header) {
	if len(h) == 0 {
		return
	}
	if m.Header == nil {
		m.Header = make(natsgo.Header, len(h)+1)
	}
	for k, v := range h {
		m.Header[k] = []string{v}
	}
}

// setError puts err on m as the services protocol's error headers.
func setError(m *natsgo.Msg, e *micro.Error) {
	if m.Header == nil {
		m.Header = make(natsgo.Header, 2)
	}
	m.Header[hdrErrorCode] = []string{strconv.FormatUint(uint64(e.Code), 10)}
	m.Header[hdrError] = []string{e.Message}
}

// errorFrom returns the *micro.Error carried by a reply's headers, or nil. A
// code that is not a failure micro knows (another NATS service may send
// "500"; 0 would read as success) becomes Unknown with the code in front of
// the message.
func errorFrom(h natsgo.Header) *micro.Error {
	code, ok := h[hdrErrorCode]
	if !ok || len(code) == 0 {
		return nil
	}
	msg := h.Get(hdrError)
	n, err := strconv.ParseUint(code[0], 10, 32)
	if err != nil || n == uint64(micro.OK) || n > uint64(micro.Unauthenticated) {
		return micro.NewError(micro.Unknown, code[0]+": "+msg)
	}
	return micro.NewError(micro.Code(n), msg)
}

// deadlineFrom parses the Micro-Deadline header of a request.
func deadlineFrom(h natsgo.Header) (d time.Time, ok bool, err error) {
	v := h.Get(hdrDeadline)
	if v == "" {
		v = h.Get("micro-deadline") // header names are case-sensitive on NATS
	}
	if v == "" {
		return time.Time{}, false, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, micro.Errorf(micro.InvalidArgument, "nats: bad %s header %q", hdrDeadline, v)
	}
	return time.UnixMilli(ms), true, nil
}
