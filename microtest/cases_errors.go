package microtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/dancinggopher/micro"
)

// wantCode fails t unless err is an *micro.Error with code and, if msg is
// not empty, that message.
func wantCode(t *testing.T, err error, code micro.Code, msg string) {
	t.Helper()
	var e *micro.Error
	if !errors.As(err, &e) || e == nil {
		t.Fatalf("error = %v (%T), want *micro.Error with code %v", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("code = %v (%q), want %v", e.Code, e.Message, code)
	}
	if msg != "" && e.Message != msg {
		t.Fatalf("message = %q, want %q", e.Message, msg)
	}
}

// checkError reports how err differs from an *micro.Error with code and
// exactly msg, or "" if it does not.
func checkError(err error, code micro.Code, msg string) string {
	var e *micro.Error
	if !errors.As(err, &e) || e == nil {
		return fmt.Sprintf("error = %v (%T), want *micro.Error %v", err, err, code)
	}
	if e.Code != code || e.Message != msg {
		return fmt.Sprintf("got %v %q, want %v %q", e.Code, clip(e.Message), code, clip(msg))
	}
	return ""
}

// clip shortens s for a failure message.
func clip(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%s…(%d bytes)", s[:60], len(s))
	}
	return s
}

// failing registers "fail", whose handler returns errs[n] for the request n.
func (e *env) failing(errs []error) func(*micro.Mux) {
	return func(m *micro.Mux) {
		m.HandleFunc(e.ns, "fail", func(_ context.Context, req []byte) ([]byte, error) {
			n, err := strconv.Atoi(string(req))
			if err != nil || n < 0 || n >= len(errs) {
				return nil, micro.Errorf(micro.InvalidArgument, "no error %q", req)
			}
			return []byte("reply"), errs[n]
		})
	}
}

// callFail calls "fail" for errs[n] and reports how the error differs from
// code and msg; a reply body delivered with an error counts as a
// difference.
func (e *env) callFail(t *testing.T, c micro.Client, n int, code micro.Code, msg string) string {
	t.Helper()
	resp, err := c.Call(ctx(t), e.ns, "fail", []byte(strconv.Itoa(n)))
	if d := checkError(err, code, msg); d != "" {
		return d
	}
	if resp != nil {
		return fmt.Sprintf("the error came with a reply body %q", resp)
	}
	return ""
}

// ErrorCodes proves that every code from Canceled to Unauthenticated
// reaches the caller with its message.
func ErrorCodes(t *testing.T, tr Transport) {
	e := setup(t, tr, "ErrorCodes")
	var errs []error
	for code := micro.Canceled; code <= micro.Unauthenticated; code++ {
		errs = append(errs, micro.Errorf(code, "failed with %d: é", code))
	}
	_, c := e.start(t, e.failing(errs))
	for i := range errs {
		code := micro.Code(i + 1)
		_, err := c.Call(ctx(t), e.ns, "fail", []byte(strconv.Itoa(i)))
		wantCode(t, err, code, fmt.Sprintf("failed with %d: é", code))
	}
}

// PlainError proves that an error that is not an *micro.Error reaches the
// caller as Unknown with its text.
func PlainError(t *testing.T, tr Transport) {
	e := setup(t, tr, "PlainError")
	_, c := e.start(t, e.failing([]error{errors.New("plain failure")}))
	_, err := c.Call(ctx(t), e.ns, "fail", []byte("0"))
	wantCode(t, err, micro.Unknown, "plain failure")
}

// nilError is an error type whose nil pointer is a handler's "no error".
type nilError struct{}

func (*nilError) Error() string { return "nilError" }

// NilError proves that a handler error whose value is a nil pointer (a nil
// *micro.Error, or a nil pointer of any error type) is no error: the caller
// gets the handler's reply and an error interface that is nil, on Call and
// on Send.
func NilError(t *testing.T, tr Transport) {
	e := setup(t, tr, "NilError")
	ran := make(chan struct{}, 2)
	errs := []error{(*micro.Error)(nil), (*nilError)(nil)}
	_, c := e.start(t, func(m *micro.Mux) {
		e.failing(errs)(m)
		m.HandleFunc(e.ns, "sink", func(context.Context, []byte) ([]byte, error) {
			ran <- struct{}{}
			return nil, (*micro.Error)(nil)
		})
	})
	for i, want := range errs {
		resp, err := c.Call(ctx(t), e.ns, "fail", []byte(strconv.Itoa(i)))
		if err != nil || string(resp) != "reply" {
			t.Errorf("a handler returning a nil %T: Call = %q, %#v; want %q, nil", want, resp, err, "reply")
		}
	}
	if err := c.Send(ctx(t), e.ns, "sink", nil); err != nil {
		t.Fatalf("a handler returning a nil *micro.Error: Send = %#v, want nil", err)
	}
	wait(t, ran, Timeout, "message sent handled")
}

// UnknownCodes proves that a handler's code OK or a number outside 1..16
// reaches the caller as Unknown with the message unchanged.
func UnknownCodes(t *testing.T, tr Transport) {
	e := setup(t, tr, "UnknownCodes")
	codes := []micro.Code{micro.OK, 17, 100, 1 << 31, math.MaxUint32}
	var errs []error
	for _, code := range codes {
		errs = append(errs, micro.NewError(code, fmt.Sprintf("code %d: kept", code)))
	}
	_, c := e.start(t, e.failing(errs))
	for i, code := range codes {
		if d := e.callFail(t, c, i, micro.Unknown, fmt.Sprintf("code %d: kept", code)); d != "" {
			t.Errorf("handler's code %d: %s", code, d)
		}
	}
}

// messages are error messages every transport carries byte for byte, each
// with a code.
var messages = []struct {
	code micro.Code
	msg  string
}{
	{micro.Internal, "line one\nline two\n"},
	{micro.NotFound, "  two leading spaces"},
	{micro.Aborted, "trailing space "},
	{micro.ResourceExhausted, " "},
	{micro.FailedPrecondition, "a: b: c:"},
	{micro.InvalidArgument, "100% sure"},
	{micro.OutOfRange, "%41 is not A"},
	{micro.OutOfRange, "%"},
	{micro.OutOfRange, "%zz %4 %%"},
	{micro.Unknown, ""},
	{micro.NotFound, ""},
	{micro.DataLoss, "tab\tcr\rnul\x00del\x7f esc\x1b"},
	{micro.PermissionDenied, "é, 日本, 🙂"},
	{micro.Unimplemented, "unknown method Call for service micro.v1.Micro"},
	{micro.Unavailable, "Status: 503\r\nDescription: No Responders"},
	{micro.Internal, tenKB()},
}

// tenKB returns a 10 KiB message of every kind of byte above.
func tenKB() string {
	var b strings.Builder
	for b.Len() < 10<<10 {
		b.WriteString(" line %41 of: 100% é\n\t")
	}
	return b.String()[:10<<10]
}

// ErrorMessages proves that error messages reach the caller byte for byte:
// newlines, leading and trailing spaces, colons, '%' and what looks like
// percent-encoding, control bytes, non-ASCII, empty and 10 KiB messages.
func ErrorMessages(t *testing.T, tr Transport) {
	e := setup(t, tr, "ErrorMessages")
	var errs []error
	for _, m := range messages {
		errs = append(errs, micro.NewError(m.code, m.msg))
	}
	errs = append(errs, errors.New(" plain\nerror: 100%"), errors.New(""))
	_, c := e.start(t, e.failing(errs))
	for i, m := range messages {
		if d := e.callFail(t, c, i, m.code, m.msg); d != "" {
			t.Errorf("message %q: %s", clip(m.msg), d)
		}
	}
	for i, msg := range []string{" plain\nerror: 100%", ""} {
		if d := e.callFail(t, c, len(messages)+i, micro.Unknown, msg); d != "" {
			t.Errorf("plain error %q: %s", msg, d)
		}
	}
}

// InvalidUTF8Message proves that invalid UTF-8 in an error message reaches
// the caller replaced as by strings.ToValidUTF8(msg, "\uFFFD").
func InvalidUTF8Message(t *testing.T, tr Transport) {
	e := setup(t, tr, "InvalidUTF8Message")
	msgs := []string{"bad \xff byte", "\xff\xfe\xfd", "cut é\xc3", "surrogate \xed\xa0\x80", "\x80 leading", "ok é"}
	var errs []error
	for _, m := range msgs {
		errs = append(errs, micro.NewError(micro.DataLoss, m))
	}
	_, c := e.start(t, e.failing(errs))
	for i, m := range msgs {
		if d := e.callFail(t, c, i, micro.DataLoss, strings.ToValidUTF8(m, "\uFFFD")); d != "" {
			t.Errorf("message %q: %s", m, d)
		}
	}
}

// LongMessage proves that an error message over 16 KiB reaches the caller
// cut to its first 16 KiB at a rune boundary, and one of 16 KiB whole.
func LongMessage(t *testing.T, tr Transport) {
	e := setup(t, tr, "LongMessage")
	fill := func(n int) string { return strings.Repeat("x% \n:", n/5+1)[:n] }
	tail := strings.Repeat("tail", 500)
	msgs := []struct{ name, msg, want string }{
		{"exactly 16 KiB", fill(maxErrorMessage), fill(maxErrorMessage)},
		{"16 KiB and more", fill(maxErrorMessage) + tail, fill(maxErrorMessage)},
		{"é across the cut", fill(maxErrorMessage-1) + "é" + tail, fill(maxErrorMessage - 1)},
		{"日 across the cut", fill(maxErrorMessage-2) + "日" + tail, fill(maxErrorMessage - 2)},
		{"🙂 ending at the cut", fill(maxErrorMessage-4) + "🙂" + tail, fill(maxErrorMessage-4) + "🙂"},
	}
	var errs []error
	for _, m := range msgs {
		errs = append(errs, micro.NewError(micro.Internal, m.msg))
	}
	_, c := e.start(t, e.failing(errs))
	for i, m := range msgs {
		if d := e.callFail(t, c, i, micro.Internal, m.want); d != "" {
			t.Errorf("%s (%d bytes): %s", m.name, len(m.msg), d)
		}
	}
}
