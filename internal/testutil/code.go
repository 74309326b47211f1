package testutil

import (
	"errors"
	"testing"

	"github.com/dancinggopher/micro"
)

// WantCode fails t with t.Fatal unless err is a *micro.Error (wrapped or
// not) with code and, if msg is not "", the message msg. It returns the
// *micro.Error.
func WantCode(t testing.TB, err error, code micro.Code, msg string) *micro.Error {
	t.Helper()
	e, ok := errors.AsType[*micro.Error](err)
	if !ok || e == nil {
		t.Fatalf("error = %v (%T), want *micro.Error with code %v", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("error = %v, want code %v", err, code)
	}
	if msg != "" && e.Message != msg {
		t.Fatalf("message = %q, want %q", e.Message, msg)
	}
	return e
}
