package http

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// The headers of micro's HTTP wire contract.
const (
	headerTimeout  = "Connect-Timeout-Ms" // relative deadline: Connect's
	headerDeadline = "Micro-Deadline"     // absolute deadline, Unix ms
	headerOneWay   = "Micro-One-Way"      // "1": answer 202 once admitted
)

// maxTimeoutDigits is Connect's bound on Connect-Timeout-Ms: at most 10
// digits, about 115 days.
const maxTimeoutDigits = 10

// codes are the Connect names of micro's codes, indexed by code number.
var codes = [...]string{
	"", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found",
	"already_exists", "permission_denied", "resource_exhausted", "failed_precondition",
	"aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss",
	"unauthenticated",
}

// statuses is Connect's HTTP status of each code, indexed by code number.
var statuses = [...]int{
	0, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401,
}

// codeNumbers maps a Connect code name to its number.
var codeNumbers = func() map[string]micro.Code {
	m := make(map[string]micro.Code, len(codes))
	for i, name := range codes[1:] {
		m[name] = micro.Code(i + 1)
	}
	return m
}()

// errorBody is Connect's JSON error body. Details are not produced and
// are ignored when read.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message,omitempty"`
}

// encodeError returns e's status and JSON body. e is in wire form
// (transport.ErrorOf), so its code is 1 to 16 and its message valid UTF-8,
// which JSON carries byte for byte.
func encodeError(e *micro.Error) (int, []byte) {
	body, _ := json.Marshal(errorBody{Code: codes[e.Code], Message: e.Message})
	return statuses[e.Code], append(body, '\n')
}

// decodeError returns the *micro.Error that a non-2xx response carries: the
// code and message of micro's (Connect's) JSON body, or, for any other body
// (a proxy's HTML page), the code of the status by gRPC's and Connect's
// HTTP mapping, with the status in the message.
func decodeError(status int, contentType string, body []byte, what string) *micro.Error {
	var b errorBody
	if isJSON(contentType) && json.Unmarshal(body, &b) == nil && b.Code != "" {
		if n, ok := codeNumbers[b.Code]; ok {
			return transport.ParseError(strconv.Itoa(int(n)), b.Message)
		}
		return transport.ParseError(b.Code, b.Message) // Unknown, "code: message"
	}
	return micro.Errorf(statusCode(status), "http: %s: %d %s (not a micro reply)", what, status, http.StatusText(status))
}

// isJSON reports whether a Content-Type is JSON's, parameters aside.
func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}

// statusCode is the code of a status that came without micro's error body:
// gRPC's HTTP mapping, which Connect uses too, except that 404 is NotFound,
// micro's code for a route nobody serves.
func statusCode(status int) micro.Code {
	switch status {
	case http.StatusBadRequest:
		return micro.Internal
	case http.StatusUnauthorized:
		return micro.Unauthenticated
	case http.StatusForbidden:
		return micro.PermissionDenied
	case http.StatusNotFound:
		return micro.NotFound
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return micro.Unavailable
	}
	return micro.Unknown
}

// single returns the one value of the transport's own header key in h, or
// an InvalidArgument error if it appears more than once.
func single(h http.Header, key string) (string, bool, error) {
	switch v := h[key]; len(v) {
	case 0:
		return "", false, nil
	case 1:
		return v[0], true, nil
	}
	return "", false, transport.DuplicateHeader(key)
}

// requestDeadline returns the deadline that h asks for, zero for none. Both
// Connect-Timeout-Ms (milliseconds from now) and Micro-Deadline (Unix ms)
// set it; if both are present the earlier wins. A malformed or repeated
// one is an InvalidArgument error naming it.
func requestDeadline(h http.Header, now time.Time) (time.Time, error) {
	var d time.Time
	v, ok, err := single(h, headerTimeout)
	if err != nil {
		return d, err
	}
	if ok {
		ms, err := parseTimeout(v)
		if err != nil {
			return d, err
		}
		d = now.Add(time.Duration(ms) * time.Millisecond)
	}
	if v, ok, err = single(h, headerDeadline); err != nil {
		return time.Time{}, err
	}
	if ok {
		t, err := transport.ParseDeadline(headerDeadline, v)
		if err != nil {
			return time.Time{}, err
		}
		if d.IsZero() || t.Before(d) {
			d = t
		}
	}
	return d, nil
}

// parseTimeout parses Connect-Timeout-Ms: 1 to 10 ASCII digits.
func parseTimeout(v string) (int64, error) {
	if len(v) == 0 || len(v) > maxTimeoutDigits {
		return 0, badTimeout(v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, badTimeout(v)
		}
	}
	ms, _ := strconv.ParseInt(v, 10, 64)
	return ms, nil
}

func badTimeout(v string) error {
	return micro.Errorf(micro.InvalidArgument, "malformed %s header %q (want 1 to %d digits of milliseconds)", headerTimeout, v, maxTimeoutDigits)
}

// formatTimeout returns the Connect-Timeout-Ms of a deadline d away,
// rounded up to the millisecond so that the handler's deadline is never
// before the caller's, and capped at Connect's 10 digits.
func formatTimeout(d time.Duration) string {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatInt(min(max(int64(ms), 1), 9_999_999_999), 10)
}
