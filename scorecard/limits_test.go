package scorecard_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/dancinggopher/micro"
)

// TestMessageSizeLimit checks the same limit on every transport, at 64 KiB
// and at the default 4 MiB, with random payloads (zeros compress, and would
// hide the limit where a medium compresses): a request and a reply of
// exactly the limit pass intact, one byte over is ResourceExhausted: a
// request refused by the client, a reply by the server, and a request from
// a client that allows more by the server.
func TestMessageSizeLimit(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			for _, limit := range []int{64 << 10, micro.DefaultMaxMessageSize} {
				t.Run(strconv.Itoa(limit), func(t *testing.T) { sizeLimit(t, tr.start(t), limit) })
			}
		})
	}
}

func sizeLimit(t *testing.T, e *env, limit int) {
	rnd := rand.New(rand.NewChaCha8([32]byte{byte(limit)}))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rnd.Uint32())
		}
		return b
	}
	over := random(limit + 1)
	mux := micro.NewMux()
	mux.HandleFunc("limit", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	// reply answers with a reply of the size the request names.
	mux.HandleFunc("limit", "reply", func(_ context.Context, req []byte) ([]byte, error) {
		n, err := strconv.Atoi(string(req))
		if err != nil {
			return nil, micro.Errorf(micro.InvalidArgument, "size %q", req)
		}
		return over[:n], nil
	})
	cfg := config{maxMessageSize: limit}
	run(t, e.server(mux, cfg), 5*time.Second)
	cl := e.client(cfg)
	call := func(service string, req []byte) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return cl.Call(ctx, "limit", service, req)
	}

	at := random(limit)
	if resp, err := call("echo", at); err != nil || !bytes.Equal(resp, at) {
		t.Errorf("request of exactly %d bytes: %d bytes back, equal %v, err %v", limit, len(resp), bytes.Equal(resp, at), err)
	}
	if _, err := call("echo", over); micro.CodeOf(err) != micro.ResourceExhausted {
		t.Errorf("request of %d bytes: %v, want ResourceExhausted", limit+1, err)
	}
	if resp, err := call("reply", []byte(strconv.Itoa(limit))); err != nil || !bytes.Equal(resp, over[:limit]) {
		t.Errorf("reply of exactly %d bytes: %d bytes back, err %v", limit, len(resp), err)
	}
	if _, err := call("reply", []byte(strconv.Itoa(limit+1))); micro.CodeOf(err) != micro.ResourceExhausted {
		t.Errorf("reply of %d bytes: %v, want ResourceExhausted", limit+1, err)
	}
	// A client with a larger limit: the server's own limit decides.
	if e.name != "inproc" { // an inproc client has its server's limit
		big := e.client(config{maxMessageSize: 2 * limit})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := big.Call(ctx, "limit", "echo", over)
		cancel()
		if micro.CodeOf(err) != micro.ResourceExhausted {
			t.Errorf("request of %d bytes from a client allowing more: %v, want ResourceExhausted from the server", limit+1, err)
		}
	}
	// The service still answers after refusing.
	if resp, err := call("echo", []byte("ok")); err != nil || string(resp) != "ok" {
		t.Errorf("call after the refusals: %q, %v", resp, err)
	}
}
