package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// maxErrorBody bounds the error body a Client reads: a message of
// transport.MaxErrorMessage bytes, JSON-escaped at its worst, fits.
const maxErrorBody = 8 * transport.MaxErrorMessage

// Client calls micro services over HTTP through a pool of keep-alive
// connections. It is safe for concurrent use.
type Client struct {
	base   string // scheme://host[/path][/prefix]
	hc     *http.Client
	own    *http.Transport // the Client's own pool; nil with WithRoundTripper
	max    int
	closed atomic.Bool
}

var _ micro.Client = (*Client)(nil)

// NewClient returns a Client of the server at target: "host:port" (http,
// or https with WithTLS) or a URL "http://host:port" or
// "https://host/base", whose path is put before every route. It does not
// connect: connections are made by calls and kept for reuse. It returns an
// error for a malformed target or prefix, or WithTLS beside
// WithRoundTripper.
func NewClient(target string, opts ...ClientOption) (*Client, error) {
	cfg := newClientConfig(opts)
	prefix, err := checkPrefix(cfg.prefix)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(target, "://") {
		scheme := "http://"
		if cfg.tls != nil {
			scheme = "https://"
		}
		target = scheme + target
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("http: target %q: want host:port or an http or https URL", target)
	}
	c := &Client{base: u.Scheme + "://" + u.Host + strings.TrimSuffix(u.EscapedPath(), "/") + prefix, max: cfg.max}
	rt := cfg.rt
	if rt == nil {
		c.own = newTransport(cfg)
		rt = c.own
	} else if cfg.tls != nil {
		return nil, errors.New("http: WithTLS beside WithRoundTripper: set TLS on the RoundTripper")
	}
	c.hc = &http.Client{
		Transport: rt,
		// A redirect would turn a POST into a GET, or send the body elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// newTransport returns the Client's own pool: http.DefaultTransport's
// settings, more idle connections per host, no compression.
func newTransport(cfg clientConfig) *http.Transport {
	t, ok := http.DefaultTransport.(*http.Transport)
	if ok {
		t = t.Clone()
	} else {
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	}
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = 256
	t.DisableCompression = true
	t.TLSClientConfig = cfg.tls.Clone()
	return t
}

// Call posts req to (namespace, service) and returns the handler's reply.
// It blocks until the reply arrives or ctx ends; cancelling ctx cancels the
// handler's ctx. Headers set with micro.WithHeader travel as HTTP headers;
// ctx's deadline (micro.DefaultCallTimeout if it has none) travels as
// Connect-Timeout-Ms, relative so that the clocks of client and server
// need not agree; a reply Header asked for with micro.WithReplyHeader is
// filled with the response's headers, content-type and framing headers
// aside, whether or not the call failed. Errors are *micro.Error: the
// handler's code and message; InvalidArgument or ResourceExhausted for a
// request refused before sending; Unavailable if the server cannot be
// reached or the Client is closed; for a response that is not micro's (a
// proxy's 502 page), the code of its status by gRPC's HTTP mapping with
// the status in the message.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	header, replyHeader, err := c.prepare(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := transport.CallContext(ctx)
	defer cancel()
	d, _ := ctx.Deadline()
	hdr := outgoing(header)
	timeout := func() { hdr[headerTimeout] = []string{formatTimeout(time.Until(d))} }
	timeout()
	if c.own != nil {
		// Again once connected, on the calling goroutine before the
		// headers are written: dialing and a TLS handshake must not
		// stretch the handler's deadline past the caller's.
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { timeout() }})
	}
	hr, err := c.request(ctx, namespace, service, hdr, req)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return nil, c.failed(ctx, err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode == http.StatusOK
	if replyHeader != nil {
		h := userHeaders(resp.Header)
		if !ok {
			delete(h, "content-type") // the error body's, not the handler's
		}
		transport.CopyReplyHeader(replyHeader, h)
	}
	if !ok {
		return nil, c.responseError(ctx, hr, resp)
	}
	body, err := c.readBody(ctx, resp, c.max, "reply")
	if err != nil {
		return nil, err
	}
	return transport.Result(body, nil)
}

// Send posts msg to (namespace, service) as a one-way message (header
// Micro-One-Way: 1) and returns once the server admitted it: a Server
// answers 202 before the handler runs, and the handler's ctx carries the
// headers but no deadline, and is not cancelled by ctx. Send returns the
// refusals: a malformed name, an oversized body or a refused header
// (before sending), Unavailable from a stopping or unreachable server,
// ResourceExhausted at its concurrency bound. The handler's own result,
// NotFound for an unknown route included, is logged by the server. ctx
// bounds the wait for the answer (micro.DefaultCallTimeout if it has no
// deadline).
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	header, _, err := c.prepare(ctx, namespace, service, msg)
	if err != nil {
		return err
	}
	ctx, cancel := transport.CallContext(ctx)
	defer cancel()
	hdr := outgoing(header)
	hdr[headerOneWay] = []string{"1"}
	hr, err := c.request(ctx, namespace, service, hdr, msg)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(hr)
	if err != nil {
		return c.failed(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return c.responseError(ctx, hr, resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // so the connection is reused
	return nil
}

// Close makes later calls fail with Unavailable and closes the idle
// connections of the Client's own pool. Calls in flight finish. It is
// idempotent.
func (c *Client) Close() error {
	if !c.closed.Swap(true) && c.own != nil {
		c.own.CloseIdleConnections()
	}
	return nil
}

func (c *Client) prepare(ctx context.Context, namespace, service string, body []byte) (header, reply micro.Header, err error) {
	if c.closed.Load() {
		return nil, nil, micro.Errorf(micro.Unavailable, "http: client closed")
	}
	return transport.Prepare(ctx, namespace, service, body, c.max)
}

// outgoing returns the HTTP headers of a request's micro headers, with room
// for the transport's own.
func outgoing(header micro.Header) http.Header {
	hdr := make(http.Header, len(header)+1)
	for k, v := range header {
		if k == "content-type" {
			k = "Content-Type" // net/http reads it by its canonical key
		}
		hdr[k] = []string{v} // lower-case, as checked; HTTP keys are case-blind
	}
	return hdr
}

// request returns the POST of body to the route, with hdr.
func (c *Client) request(ctx context.Context, namespace, service string, hdr http.Header, body []byte) (*http.Request, error) {
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+namespace+"/"+service, bytes.NewReader(body))
	if err != nil {
		return nil, micro.Errorf(micro.InvalidArgument, "http: %w", err)
	}
	hr.Header = hdr
	return hr, nil
}

// failed turns an error of the round trip into a *micro.Error.
func (c *Client) failed(ctx context.Context, err error) *micro.Error {
	if ctx.Err() != nil {
		return transport.ErrorOf(ctx.Err())
	}
	if c.closed.Load() {
		return micro.Errorf(micro.Unavailable, "http: client closed")
	}
	return micro.Errorf(micro.Unavailable, "http: %w", err)
}

// responseError returns the error a non-success response carries.
func (c *Client) responseError(ctx context.Context, hr *http.Request, resp *http.Response) error {
	body, err := c.readBody(ctx, resp, maxErrorBody, "error")
	if err != nil && micro.CodeOf(err) != micro.ResourceExhausted {
		return err
	}
	return decodeError(resp.StatusCode, resp.Header.Get("Content-Type"), body, hr.Method+" "+hr.URL.String())
}

// readBody reads a response body of at most limit bytes; a longer reply is
// ResourceExhausted.
func (c *Client) readBody(ctx context.Context, resp *http.Response, limit int, what string) ([]byte, error) {
	n := resp.ContentLength
	if n > int64(limit) {
		return nil, micro.Errorf(micro.ResourceExhausted, "%s of %d bytes exceeds the limit of %d", what, n, limit)
	}
	if n == 0 {
		return nil, nil
	}
	var body []byte
	var err error
	if n > 0 {
		body = make([]byte, n)
		_, err = io.ReadFull(resp.Body, body)
	} else if body, err = io.ReadAll(io.LimitReader(resp.Body, int64(limit)+1)); err == nil && len(body) > limit {
		return nil, micro.Errorf(micro.ResourceExhausted, "%s exceeds the limit of %d bytes", what, limit)
	}
	if err != nil {
		return nil, c.failed(ctx, err)
	}
	return body, nil
}
