package transport

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dancinggopher/micro"
)

// MaxErrorMessage is the longest error message, in bytes, that crosses a
// wire: a longer one is cut at a rune boundary, the same on every transport.
const MaxErrorMessage = 16 << 10

// IsNil reports whether err is nil or holds a nil pointer (a nil *micro.Error
// returned as an error, say). Such an error is no error on every transport.
func IsNil(err error) bool {
	if err == nil {
		return true
	}
	switch v := reflect.ValueOf(err); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface:
		return v.IsNil()
	}
	return false
}

// ErrorOf returns err as the *micro.Error that crosses the wire, nil for a
// nil err (see [IsNil]). The code is err's [micro.CodeOf], but OK and
// numbers outside 1 to 16 become Unknown; the message is the *micro.Error's
// Message, or err's text for another error, made valid UTF-8 (invalid bytes
// become U+FFFD) and cut to [MaxErrorMessage]. The result has no cause.
func ErrorOf(err error) *micro.Error {
	if IsNil(err) {
		return nil
	}
	code, msg := micro.CodeOf(err), ""
	if e, ok := errors.AsType[*micro.Error](err); ok && e != nil {
		msg = e.Message
	} else {
		msg = err.Error()
	}
	if code == micro.OK || code > micro.Unauthenticated {
		code = micro.Unknown
	}
	return &micro.Error{Code: code, Message: cleanMessage(msg)}
}

// cleanMessage makes msg valid UTF-8 and at most MaxErrorMessage bytes.
func cleanMessage(msg string) string {
	if !utf8.ValidString(msg) {
		msg = strings.ToValidUTF8(msg, "\uFFFD")
	}
	if len(msg) > MaxErrorMessage {
		cut := MaxErrorMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return msg
}

// WireError returns the code and message strings that carry err on a wire:
// the code number in decimal and the message of [ErrorOf]. For a nil err
// both are empty.
func WireError(err error) (code, message string) {
	e := ErrorOf(err)
	if e == nil {
		return "", ""
	}
	return strconv.FormatUint(uint64(e.Code), 10), e.Message
}

// ParseError returns the *micro.Error that code and message strings from a
// wire carry. A code that is not a number from 1 to 16 (a foreign service's
// "500", or "0", which would read as success) becomes Unknown, with the code
// in front of the message: "500: out of stock".
func ParseError(code, message string) *micro.Error {
	message = cleanMessage(message)
	n, err := strconv.ParseUint(code, 10, 32)
	if err != nil || n == uint64(micro.OK) || n > uint64(micro.Unauthenticated) {
		return &micro.Error{Code: micro.Unknown, Message: cleanMessage(code + ": " + message)}
	}
	return &micro.Error{Code: micro.Code(n), Message: message}
}

// FormatDeadline returns t as the wire carries it: Unix milliseconds.
func FormatDeadline(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// ParseDeadline parses a deadline header in Unix milliseconds. A value that
// is not a decimal integer is an InvalidArgument *micro.Error naming the
// header.
func ParseDeadline(header, value string) (time.Time, error) {
	ms, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return time.Time{}, micro.Errorf(micro.InvalidArgument, "malformed %s header %q (want Unix milliseconds)", header, value)
	}
	return time.UnixMilli(ms), nil
}

// EscapeValue returns s made fit for a header value of a medium that cannot
// carry every byte (NATS): '%', bytes below 0x20, 0x7F and a leading or
// trailing space become %XX. Anything else, UTF-8 included, is unchanged,
// so ordinary messages read the same in foreign tools. [UnescapeValue]
// reverses it.
func EscapeValue(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' || c < 0x20 || c == 0x7f || c == ' ' && (i == 0 || i == len(s)-1) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

const hex = "0123456789ABCDEF"

func needsEscape(s string) bool {
	if s != "" && (s[0] == ' ' || s[len(s)-1] == ' ') {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c < 0x20 || c == 0x7f {
			return true
		}
	}
	return false
}

// UnescapeValue decodes the %XX sequences of s; a '%' not followed by two
// hex digits stays as it is, so a foreign service's "100% sure" reads
// unchanged.
func UnescapeValue(s string) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if h, ok1 := unhex(s[i+1]); ok1 {
				if l, ok2 := unhex(s[i+2]); ok2 {
					b.WriteByte(h<<4 | l)
					i += 2
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
