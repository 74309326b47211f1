package transport

import (
	"slices"
	"time"

	"github.com/dancinggopher/micro"
)

// The defaults of [DefaultRetryPolicy], and the cap of [RetryPolicy.Delay].
const (
	DefaultRetries = 3                      // retries after the first attempt
	DefaultBackoff = 100 * time.Millisecond // delay before the first retry
	MaxBackoff     = 5 * time.Second        // no retry waits longer
)

// DefaultRetryableCodes returns the codes a broker transport retries by
// default: Unavailable, ResourceExhausted, Aborted and DeadlineExceeded,
// the failures that may pass if the request is tried again later. Each
// call returns a new slice.
func DefaultRetryableCodes() []micro.Code {
	return []micro.Code{micro.Unavailable, micro.ResourceExhausted, micro.Aborted, micro.DeadlineExceeded}
}

// RetryPolicy is how often and how soon a server that keeps requests (the
// Kafka and JetStream transports) retries one whose handler failed, so
// that every such transport retries alike. Which requests it may retry at
// all (not one refused before its handler ran, nor one past the caller's
// deadline) and how it waits are the transport's.
//
// The zero value retries nothing; [DefaultRetryPolicy] is what a server
// does unless told otherwise. Its methods are safe for concurrent use as
// long as the policy is not changed.
type RetryPolicy struct {
	// Retries is how many times a request is retried after its first
	// attempt; 0 or less retries nothing.
	Retries int
	// Backoff is the delay before the first retry, doubled for each next
	// one up to MaxBackoff; 0 or less retries at once.
	Backoff time.Duration
	// Codes are the handler error codes that are retried; nil retries none.
	Codes []micro.Code
}

// DefaultRetryPolicy returns DefaultRetries retries from DefaultBackoff of
// the DefaultRetryableCodes.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{Retries: DefaultRetries, Backoff: DefaultBackoff, Codes: DefaultRetryableCodes()}
}

// Retry reports whether a request whose handler failed with code, after
// done retries of it, is retried: done is less than Retries and code is
// one of Codes.
func (p RetryPolicy) Retry(done int, code micro.Code) bool {
	return done < p.Retries && slices.Contains(p.Codes, code)
}

// Delay returns the backoff before the retry that follows done retries:
// Backoff doubled done times, at most MaxBackoff (so a Backoff above
// MaxBackoff is MaxBackoff too), and 0 for a Backoff of 0 or less.
func (p RetryPolicy) Delay(done int) time.Duration {
	d := max(p.Backoff, 0)
	for ; done > 0 && d < MaxBackoff; done-- {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// Outcome names, for [micro.RequestInfo.Outcome], what a transport that
// settles messages by their handler's result does with one whose handler
// failed with e (nil for success): "ack" on success; "retry" if retry
// reports that it is tried again, which Outcome asks only for a failure;
// else "reply" for a request, whose caller gets the error; else
// "dead_letter" if the transport has a dead-letter destination, and
// "drop" if it has none.
func Outcome(e *micro.Error, retry func() bool, request, deadLetter bool) string {
	switch {
	case e == nil:
		return "ack"
	case retry():
		return "retry"
	case request:
		return "reply"
	case deadLetter:
		return "dead_letter"
	}
	return "drop"
}
