package transport_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

func TestDefaultRetryPolicy(t *testing.T) {
	p := transport.DefaultRetryPolicy()
	if p.Retries != 3 || p.Backoff != 100*time.Millisecond {
		t.Errorf("DefaultRetryPolicy() = %d retries from %v, want 3 from 100ms", p.Retries, p.Backoff)
	}
	if transport.MaxBackoff != 5*time.Second {
		t.Errorf("MaxBackoff = %v, want 5s", transport.MaxBackoff)
	}
	want := []micro.Code{micro.Unavailable, micro.ResourceExhausted, micro.Aborted, micro.DeadlineExceeded}
	if !slices.Equal(p.Codes, want) {
		t.Errorf("DefaultRetryPolicy().Codes = %v, want %v", p.Codes, want)
	}
	// Each call is a new slice: a server that changes its codes does not
	// change another's.
	p.Codes[0] = micro.Internal
	if got := transport.DefaultRetryableCodes(); !slices.Equal(got, want) {
		t.Errorf("DefaultRetryableCodes() after a change to a returned slice = %v, want %v", got, want)
	}
}

func TestRetryPolicyRetry(t *testing.T) {
	p := transport.DefaultRetryPolicy()
	for code := micro.Code(0); code <= micro.Unauthenticated; code++ {
		want := slices.Contains(transport.DefaultRetryableCodes(), code)
		for done := range 3 {
			if got := p.Retry(done, code); got != want {
				t.Errorf("default Retry(%d, %v) = %t, want %t", done, code, got, want)
			}
		}
		if p.Retry(3, code) {
			t.Errorf("default Retry(3, %v) = true, want false: 3 retries were made", code)
		}
	}
	for _, c := range []struct {
		p    transport.RetryPolicy
		done int
		code micro.Code
		want bool
	}{
		{transport.RetryPolicy{}, 0, micro.Unavailable, false},
		{transport.RetryPolicy{Retries: 5}, 0, micro.Unavailable, false}, // no codes
		{transport.RetryPolicy{Retries: 1, Codes: []micro.Code{micro.Internal}}, 0, micro.Internal, true},
		{transport.RetryPolicy{Retries: 1, Codes: []micro.Code{micro.Internal}}, 0, micro.Unavailable, false},
		{transport.RetryPolicy{Retries: 1, Codes: []micro.Code{micro.Internal}}, 1, micro.Internal, false},
		{transport.RetryPolicy{Retries: -1, Codes: []micro.Code{micro.Internal}}, 0, micro.Internal, false},
	} {
		if got := c.p.Retry(c.done, c.code); got != c.want {
			t.Errorf("%+v.Retry(%d, %v) = %t, want %t", c.p, c.done, c.code, got, c.want)
		}
	}
}

func TestRetryPolicyDelay(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		backoff time.Duration
		want    []time.Duration // Delay(0), Delay(1), ...
	}{
		{100 * ms, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5000 * ms, 5000 * ms}},
		{ms, []time.Duration{ms, 2 * ms, 4 * ms, 8 * ms}},
		{3 * time.Second, []time.Duration{3 * time.Second, 5 * time.Second, 5 * time.Second}},
		{5 * time.Second, []time.Duration{5 * time.Second, 5 * time.Second}},
		{time.Minute, []time.Duration{5 * time.Second, 5 * time.Second}}, // capped from the first
		{0, []time.Duration{0, 0, 0}},
		{-time.Second, []time.Duration{0, 0}},
	} {
		p := transport.RetryPolicy{Retries: 10, Backoff: c.backoff}
		for done, want := range c.want {
			if got := p.Delay(done); got != want {
				t.Errorf("Backoff %v: Delay(%d) = %v, want %v", c.backoff, done, got, want)
			}
		}
	}
	// Many retries neither overflow nor pass the cap.
	p := transport.RetryPolicy{Backoff: time.Nanosecond}
	for _, done := range []int{62, 63, 64, 1000, 1 << 30} {
		if got := p.Delay(done); got != transport.MaxBackoff {
			t.Errorf("Backoff 1ns: Delay(%d) = %v, want %v", done, got, transport.MaxBackoff)
		}
	}
	if got := p.Delay(-1); got != time.Nanosecond {
		t.Errorf("Backoff 1ns: Delay(-1) = %v, want 1ns", got)
	}
}

// A server that keeps a request retries it while the policy allows,
// waiting Delay before each retry.
func ExampleRetryPolicy() {
	p := transport.DefaultRetryPolicy()
	for done := 0; p.Retry(done, micro.Unavailable); done++ {
		fmt.Println("retry", done+1, "after", p.Delay(done))
	}
	fmt.Println("retry Internal:", p.Retry(0, micro.Internal))
	// Output:
	// retry 1 after 100ms
	// retry 2 after 200ms
	// retry 3 after 400ms
	// retry Internal: false
}

// TestOutcome checks each answer of Outcome, and that it asks retry only
// for a failure.
func TestOutcome(t *testing.T) {
	failed := micro.NewError(micro.Unavailable, "down")
	for _, c := range []struct {
		e                    *micro.Error
		retry, req, deadLett bool
		want                 string
	}{
		{nil, true, true, true, "ack"},
		{failed, true, true, true, "retry"},
		{failed, false, true, true, "reply"},
		{failed, false, false, true, "dead_letter"},
		{failed, false, false, false, "drop"},
	} {
		asked := false
		retry := func() bool { asked = true; return c.retry }
		if got := transport.Outcome(c.e, retry, c.req, c.deadLett); got != c.want {
			t.Errorf("Outcome(%v, retry %v, request %v, dead letter %v) = %q, want %q", c.e, c.retry, c.req, c.deadLett, got, c.want)
		}
		if asked != (c.e != nil) {
			t.Errorf("Outcome(%v): retry asked %v, want %v", c.e, asked, c.e != nil)
		}
	}
}
