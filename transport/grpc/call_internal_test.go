package grpc

import (
	"context"
	"runtime"
	"testing"
)

type valueKey struct{}

// A call's base context has the stream's values and Base's cancellation,
// which a derived context follows without a goroutine.
func TestValues(t *testing.T) {
	base, cancelBase := context.WithCancel(context.WithValue(context.Background(), valueKey{}, "start"))
	defer cancelBase()
	stream, cancelStream := context.WithCancel(context.WithValue(context.Background(), valueKey{}, "stream"))
	defer cancelStream()
	v := &values{Context: base, stream: stream}

	before := runtime.NumGoroutine()
	derived, cancel := context.WithCancel(v)
	defer cancel()
	if n := runtime.NumGoroutine() - before; n != 0 {
		t.Fatalf("a derived context started %d goroutines", n)
	}
	if got := derived.Value(valueKey{}); got != "stream" {
		t.Fatalf("value = %v, want the stream's", got)
	}
	cancelStream() // reaches a handler through Request.Caller, not through v
	if derived.Err() != nil {
		t.Fatalf("the stream's cancellation reached v: %v", derived.Err())
	}
	cancelBase()
	<-derived.Done()
}
