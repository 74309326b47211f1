package micro

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Code is the status of a call. It uses gRPC's numbering, so the number that
// crosses any wire (gRPC status, NATS and Kafka error headers) is the same.
type Code uint32

// The codes, numbered as in gRPC.
const (
	OK                 Code = 0
	Canceled           Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
)

var codeNames = [...]string{
	"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted",
	"FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal",
	"Unavailable", "DataLoss", "Unauthenticated",
}

// String returns the gRPC name of the code, such as "NotFound", or "Code(n)"
// for a number outside gRPC's range.
func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// Error is an error with a Code. It is what every transport carries across
// the wire: a handler's *Error reaches the caller with the same Code and
// Message whichever transport carried it.
type Error struct {
	Code    Code
	Message string
	cause   error
}

// NewError returns an *Error with the given code and message.
func NewError(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Errorf returns an *Error with the given code and a message formatted as by
// fmt.Errorf. An error operand of a %w verb becomes the cause that Unwrap
// returns; it stays on this side of the wire.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), cause: errors.Unwrap(err)}
}

// Error returns the code's name and the message, "NotFound: no user 7".
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Unwrap returns the cause given to Errorf with %w, or nil.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.cause
}

// Is reports whether target is an *Error with the same Code and, unless the
// target's Message is empty, the same Message. So errors.Is(err, ErrNotFound)
// matches any NotFound error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && e != nil && t != nil && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Sentinels for the codes micro itself answers with; match them with errors.Is.
// Any *Error of the same Code matches, whatever its message.
var (
	ErrNotFound          = &Error{Code: NotFound}          // no such namespace or service
	ErrInvalidArgument   = &Error{Code: InvalidArgument}   // a request that cannot be decoded or routed
	ErrDeadlineExceeded  = &Error{Code: DeadlineExceeded}  // the caller's deadline passed
	ErrResourceExhausted = &Error{Code: ResourceExhausted} // a message over the size limit, or a server at its concurrency bound
	ErrInternal          = &Error{Code: Internal}          // a handler panicked
	ErrUnavailable       = &Error{Code: Unavailable}       // the server is not running or cannot be reached
)

// CodeOf returns the Code of err: OK for nil (a nil *Error included), the
// Code of the first *Error in err's chain, Canceled or DeadlineExceeded for
// the context errors, and Unknown for anything else.
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	if e, ok := errors.AsType[*Error](err); ok {
		if e == nil {
			return OK
		}
		return e.Code
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return DeadlineExceeded
	}
	return Unknown
}

// errorOf returns err as an *Error: the first in its chain, or a new one with
// CodeOf(err) and err's text.
func errorOf(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok && e != nil {
		return e
	}
	return &Error{Code: CodeOf(err), Message: err.Error(), cause: err}
}
