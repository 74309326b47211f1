package micro

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/dancinggopher/micro/internal/ctxkey"
)

// RetryOption configures [Retry].
type RetryOption func(*retryOptions)

type retryOptions struct {
	codes    map[Code]bool
	attempts int
	base     time.Duration
	max      time.Duration
}

// RetryCodes sets the codes that are retried; the default is Unavailable
// and ResourceExhausted.
func RetryCodes(codes ...Code) RetryOption {
	return func(o *retryOptions) {
		o.codes = map[Code]bool{}
		for _, c := range codes {
			o.codes[c] = true
		}
	}
}

// RetryAttempts sets how many times a request is tried in all, the first
// included; the default is 3. A number below 1 is taken as 1.
func RetryAttempts(n int) RetryOption { return func(o *retryOptions) { o.attempts = max(n, 1) } }

// RetryBackoff sets the backoff: before attempt n+1 Retry waits a random
// time up to base·2ⁿ⁻¹, capped at max (exponential backoff with full
// jitter). The defaults are 50 ms and 1 s; values below 1 ms are taken as
// 1 ms, and a max below base as base.
func RetryBackoff(base, maxWait time.Duration) RetryOption {
	return func(o *retryOptions) {
		o.base = max(base, time.Millisecond)
		o.max = max(maxWait, o.base)
	}
}

type idempotentKey struct{}

// Idempotent returns a copy of ctx whose Calls and Sends [Retry] may repeat
// even when the handler may already have run: the caller says that running
// it twice does no harm.
func Idempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// Retry returns client middleware that tries a Call or Send again when it
// fails with a retryable code, up to an attempt limit, waiting an
// exponential backoff with jitter between attempts, never past ctx's
// deadline. A request is retried only if the server refused it before any
// handler ran (a server stopping, not yet running or at its concurrency
// bound, which every transport reports alike), or if ctx was marked
// [Idempotent]: a handler that may have run is never run again unasked.
// When Retry gives up it returns the last attempt's error.
func Retry(opts ...RetryOption) ClientMiddleware {
	o := retryOptions{
		codes:    map[Code]bool{Unavailable: true, ResourceExhausted: true},
		attempts: 3, base: 50 * time.Millisecond, max: time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return func(next Invoker) Invoker {
		return func(ctx context.Context, c *Call, req []byte) ([]byte, error) {
			idempotent, _ := ctx.Value(idempotentKey{}).(bool)
			for attempt := 1; ; attempt++ {
				resp, err := next(ctx, c, req)
				if err == nil || attempt >= o.attempts || !o.codes[CodeOf(err)] || !(idempotent || refused(err)) {
					return resp, err
				}
				wait := o.base << (attempt - 1)
				if wait > o.max || wait <= 0 {
					wait = o.max
				}
				wait = rand.N(wait) + 1
				if d, ok := ctx.Deadline(); ok && time.Until(d) < wait {
					return resp, err
				}
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return resp, err
				}
			}
		}
	}
}

// refused reports whether err is a server's refusal before any handler
// ran.
func refused(err error) bool {
	e, ok := errors.AsType[*Error](err)
	if !ok || e == nil {
		return false
	}
	switch e.Code {
	case Unavailable:
		return e.Message == ctxkey.RefusedStopping || e.Message == ctxkey.RefusedNotRunning
	case ResourceExhausted:
		return strings.HasPrefix(e.Message, ctxkey.RefusedBound)
	}
	return false
}
