package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// closeTimeout bounds Close: flushing records and deleting the reply topic.
const closeTimeout = 10 * time.Second

// Client calls services over Kafka. Create it with NewClient; it is safe
// for concurrent use, and many Calls share its one producer and its one
// consumer of replies.
type Client struct {
	o      clientOptions
	cl     *kgo.Client
	log    *slog.Logger
	id     string // prefix of correlation ids
	seq    atomic.Uint64
	closed chan struct{}

	known sync.Map // topic -> struct{}: topics seen to exist

	mu       sync.Mutex
	isClosed bool
	waiters  map[string]chan *kgo.Record // correlation id -> the Call waiting

	// The reply consumer, set up by the first Call under setup, which
	// Close takes too.
	setup      sync.Mutex
	replyTopic atomic.Pointer[string]
	created    bool // the client created the reply topic
	pollCancel context.CancelFunc
	pollDone   chan struct{}
}

var _ micro.Client = (*Client)(nil)

// NewClient returns a Client. It does not wait for the brokers: the first
// Send or Call does, and the first Call sets up the reply topic. It fails
// only on invalid kgo options. Unlike the gRPC and HTTP clients it takes
// no target argument: a Kafka client is given a list of seed brokers
// (WithBrokers, default 127.0.0.1:9092), or any kgo setting through
// WithClientOptions.
func NewClient(opts ...ClientOption) (*Client, error) {
	o := newClientOptions(opts)
	cl, err := kgo.NewClient(o.kgoOptions(nil)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: client: %w", err)
	}
	c := &Client{
		o: o, cl: cl, log: o.log, id: randomID() + "-",
		closed: make(chan struct{}), waiters: map[string]chan *kgo.Record{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Send produces msg to (namespace, service) and returns once the broker
// acknowledged it (acks from all in-sync replicas, idempotent producer), or
// ctx ended. The record carries ctx's headers, and the key set with
// WithKey, but not ctx's deadline: the message waits in the topic for as
// long as it takes. The handler's reply and error are dropped (see the
// server's dead-letter topic). A namespace with no topic is NotFound, a
// message over the size limit ResourceExhausted, a reserved or malformed
// header InvalidArgument, all before anything is produced.
func (c *Client) Send(ctx context.Context, namespace, service string, msg []byte) error {
	header, _, err := c.prepare(ctx, namespace, service, msg)
	if err != nil {
		return err
	}
	r := c.request(ctx, namespace, service, header, msg, 0)
	if err := c.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return produceError(r.Topic, err)
	}
	return nil
}

// Call produces req to (namespace, service) with the client's reply topic
// and a fresh correlation id, and waits for the matching reply until ctx
// ends (then DeadlineExceeded or Canceled). ctx's deadline, or
// micro.DefaultCallTimeout from now if it has none, travels as
// micro-deadline and becomes the handler's. A Call to a server that is not
// running waits in the topic and times out: Kafka cannot tell that nobody
// consumes it. Cancelling ctx does not reach the handler: Kafka has no
// signal for it.
func (c *Client) Call(ctx context.Context, namespace, service string, req []byte) ([]byte, error) {
	ctx, cancel := transport.CallContext(ctx)
	defer cancel()
	header, replyHeader, err := c.prepare(ctx, namespace, service, req)
	if err != nil {
		return nil, err
	}
	replyTo, err := c.replies(ctx)
	if err != nil {
		return nil, err
	}
	id := c.id + strconv.FormatUint(c.seq.Add(1), 36)
	ch := make(chan *kgo.Record, 1)
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		return nil, micro.Errorf(micro.Unavailable, "kafka: client closed")
	}
	c.waiters[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, id)
		c.mu.Unlock()
	}()

	deadline, _ := ctx.Deadline()
	r := c.request(ctx, namespace, service, header, req, 3)
	r.Headers = append(r.Headers,
		kgo.RecordHeader{Key: hdrReplyTo, Value: []byte(replyTo)},
		kgo.RecordHeader{Key: hdrCorrelation, Value: []byte(id)},
		kgo.RecordHeader{Key: hdrDeadline, Value: []byte(transport.FormatDeadline(deadline))})
	if err := c.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return nil, produceError(r.Topic, err)
	}
	select {
	case rep := <-ch:
		return c.answer(rep, replyHeader)
	case <-ctx.Done():
		return nil, micro.Errorf(micro.CodeOf(ctx.Err()), "kafka: waiting for the reply of %s.%s: %w", namespace, service, ctx.Err())
	case <-c.closed:
		return nil, micro.Errorf(micro.Unavailable, "kafka: client closed")
	}
}

// answer turns a reply record into Call's result, filling replyHeader (if
// the caller asked) with the reply's user headers.
func (c *Client) answer(rep *kgo.Record, replyHeader micro.Header) ([]byte, error) {
	var (
		code, msg string
		failed    bool // an error header is present, even an empty one
		hr        transport.HeaderReader
	)
	for _, h := range rep.Headers {
		switch h.Key {
		case hdrErrorCode:
			code, failed = string(h.Value), true
		case hdrError:
			msg = string(h.Value)
		default:
			if replyHeader != nil {
				hr.Add(h.Key, string(h.Value))
			}
		}
	}
	transport.CopyReplyHeader(replyHeader, hr.Header())
	if failed {
		return transport.Result(nil, transport.ParseError(code, msg))
	}
	if len(rep.Value) > c.o.max {
		return nil, micro.Errorf(micro.ResourceExhausted, "kafka: reply of %d bytes exceeds the limit of %d", len(rep.Value), c.o.max)
	}
	return transport.Result(rep.Value, nil)
}

// prepare checks a request before it is produced (transport.Prepare), and
// that the client is open and the namespace's topic exists.
func (c *Client) prepare(ctx context.Context, namespace, service string, body []byte) (header, replyHeader micro.Header, err error) {
	if c.closing() {
		return nil, nil, micro.Errorf(micro.Unavailable, "kafka: client closed")
	}
	header, replyHeader, err = transport.Prepare(ctx, namespace, service, body, c.o.max)
	if err != nil {
		return nil, nil, err
	}
	return header, replyHeader, c.exists(ctx, c.o.prefix+namespace)
}

// exists checks once that topic exists, so that a Send to a namespace no
// one serves fails at once with NotFound instead of waiting for kgo's
// retries on an unknown topic.
func (c *Client) exists(ctx context.Context, topic string) error {
	if _, ok := c.known.Load(topic); ok {
		return nil
	}
	found, err := partitionsOf(ctx, c.cl, topic)
	if err != nil {
		return unavailable(ctx, err)
	}
	if _, ok := found[topic]; !ok {
		return micro.Errorf(micro.NotFound, "kafka: no topic %q", topic)
	}
	c.known.Store(topic, struct{}{})
	return nil
}

// String returns "kafka", the name client middleware sees in micro.Call.
func (c *Client) String() string { return "kafka" }

// randomID returns 16 random hex digits.
func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (c *Client) closing() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// Close fails the Calls in flight with Unavailable, flushes the records
// being produced, deletes the reply topic if the client created it, and
// closes the connections; it blocks for at most 10s. Calls and Sends after
// Close fail with Unavailable. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.isClosed {
		c.mu.Unlock()
		return nil
	}
	c.isClosed = true
	close(c.closed)
	c.mu.Unlock()

	c.setup.Lock() // waits for a first Call's setup of the reply consumer
	defer c.setup.Unlock()
	ctx, stop := context.WithTimeout(context.Background(), closeTimeout)
	defer stop()
	err := c.cl.Flush(ctx)
	if c.pollCancel != nil {
		c.pollCancel()
		<-c.pollDone
	}
	if c.created {
		if derr := deleteTopic(ctx, c.cl, *c.replyTopic.Load()); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	c.cl.Close()
	if err != nil {
		return fmt.Errorf("kafka: close: %w", err)
	}
	return nil
}

// unavailable returns err, a failure to reach the cluster, as Unavailable,
// or as the caller's Canceled or DeadlineExceeded if ctx ended first.
func unavailable(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return transport.ErrorOf(ctx.Err())
	}
	return micro.Errorf(micro.Unavailable, "%w", err)
}
