package scorecard_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kgo"
	grpclib "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/kafkatest"
	kit "github.com/dancinggopher/micro/transport"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
	"github.com/dancinggopher/micro/transport/kafka"
)

// The fuzz targets here feed untrusted input to a running server through
// its real wire, as a client in any language could: the gRPC request
// message and metadata, and NATS subjects and headers, the Micro-Deadline
// header included. The server must answer every request (never hang, never
// crash), with a micro code, and keep transport headers from the handler.
// Their seed corpus is under testdata/fuzz; fuzz one with
//
//	go test -run '^$' -fuzz FuzzGRPCRequest -fuzztime 60s ./scorecard/

// fuzzMux has an echo route and a route that answers with the keys of the
// request headers the handler saw, quoted, one a line.
func fuzzMux() *micro.Mux {
	m := micro.NewMux()
	m.HandleFunc("fz", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	m.HandleFunc("fz", "headers", func(ctx context.Context, _ []byte) ([]byte, error) {
		var b strings.Builder
		for k := range micro.RequestInfoFrom(ctx).Header {
			b.WriteString(strconv.Quote(k) + "\n")
		}
		return []byte(b.String()), nil
	})
	return m
}

// checkHeaders fails t if the handler saw an upper-case key or one of the
// transport's own headers.
func checkHeaders(t *testing.T, seen []byte, internal func(key string) bool) {
	for line := range strings.Lines(string(seen)) {
		k, err := strconv.Unquote(strings.TrimSuffix(line, "\n"))
		if err != nil {
			t.Fatalf("headers route answered %q", seen)
		}
		if k != strings.ToLower(k) || internal(k) {
			t.Fatalf("the handler saw the header %q", k)
		}
	}
}

// rawCodec sends a request message's bytes as they are, so that the fuzzer
// writes the CallRequest the server decodes.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

// FuzzGRPCRequest sends arbitrary bytes as the CallRequest message, with
// one arbitrary metadata pair, to micro.v1.Micro/Call. A message that
// protobuf cannot decode is refused; one with a malformed namespace or
// service is InvalidArgument; an unknown route NotFound; otherwise the
// handler runs, sees no gRPC-internal metadata, and its reply comes back.
func FuzzGRPCRequest(f *testing.F) {
	e := startGRPC(f)
	run(f, e.server(fuzzMux(), config{maxMessageSize: 64 << 10}), 5*time.Second)
	cc, err := grpclib.NewClient(e.addr, grpclib.WithTransportCredentials(insecure.NewCredentials()),
		grpclib.WithDefaultCallOptions(grpclib.ForceCodecV2(rawCodec{})))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { cc.Close() })
	seed, _ := proto.Marshal(&microv1.CallRequest{Namespace: "fz", Service: "echo", Data: []byte("x")})
	f.Add(seed, "x-trace", "1")
	f.Fuzz(func(t *testing.T, msg []byte, key, value string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Only a pair gRPC can carry; grpc-go refuses others client-side.
		if validMDKey(key) && validMDValue(value) {
			ctx = metadata.AppendToOutgoingContext(ctx, key, value)
		}
		var reply []byte
		err := cc.Invoke(ctx, "/micro.v1.Micro/Call", &msg, &reply)
		code := status.Code(err)
		if code == codes.DeadlineExceeded || code == codes.Unavailable {
			t.Fatalf("no answer: %v", err)
		}
		var req microv1.CallRequest
		if proto.Unmarshal(msg, &req) != nil {
			if err == nil {
				t.Fatalf("a request protobuf cannot decode was served")
			}
			return
		}
		switch {
		case !kit.ValidName(req.Namespace) || !kit.ValidName(req.Service):
			if code != codes.InvalidArgument {
				t.Fatalf("route (%q, %q): %v, want InvalidArgument", req.Namespace, req.Service, err)
			}
			return
		case len(req.Data) > 64<<10:
			if code != codes.ResourceExhausted {
				t.Fatalf("request of %d bytes: %v, want ResourceExhausted", len(req.Data), err)
			}
			return
		case req.Namespace != "fz" || req.Service != "echo" && req.Service != "headers":
			if code != codes.NotFound {
				t.Fatalf("route (%q, %q): %v, want NotFound", req.Namespace, req.Service, err)
			}
			return
		case err != nil:
			t.Fatalf("route (%q, %q): %v", req.Namespace, req.Service, err)
		}
		var resp microv1.CallResponse
		if err := proto.Unmarshal(reply, &resp); err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if req.Service == "echo" && string(resp.Data) != string(req.Data) {
			t.Fatalf("echo = %q, want %q", resp.Data, req.Data)
		}
		if req.Service == "headers" {
			checkHeaders(t, resp.Data, func(k string) bool {
				return strings.HasPrefix(k, "grpc-") || strings.HasPrefix(k, ":") ||
					k == "content-type" || k == "user-agent" || k == "te"
			})
		}
	})
}

// unknown is the code of a request to a service the fuzz mux does not
// have: NotFound, or InvalidArgument if the name is not a valid one.
func unknown(service string) micro.Code {
	if kit.ValidName(service) {
		return micro.NotFound
	}
	return micro.InvalidArgument
}

// validMDKey reports whether gRPC accepts k as an ASCII metadata key.
func validMDKey(k string) bool {
	if k == "" || strings.HasSuffix(k, "-bin") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// validMDValue reports whether gRPC accepts v as an ASCII metadata value.
func validMDValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// FuzzNATSRequest sends requests with plain nats.go, as the nats CLI or
// another language would, to an arbitrary service of a served namespace,
// with an arbitrary Micro-Deadline header, one arbitrary header and an
// arbitrary body. Every request is answered: a deadline that is not a
// number is InvalidArgument, one that has passed DeadlineExceeded, an
// unknown service NotFound (InvalidArgument if its name is not valid);
// otherwise the handler runs without seeing the
// transport's headers, and its reply comes back.
func FuzzNATSRequest(f *testing.F) {
	e := startNATS(f)
	run(f, e.server(fuzzMux(), config{maxMessageSize: 64 << 10}), 5*time.Second)
	nc, err := natsgo.Connect(e.addr)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(nc.Close)
	f.Add("echo", strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), "X-Trace", "1", []byte("x"))
	f.Fuzz(func(t *testing.T, service, deadline, key, value string, body []byte) {
		if !validToken(service) || len(body) > 64<<10 {
			return // not a request that reaches the service's subscription
		}
		m := natsgo.NewMsg("fz." + service)
		m.Data = body
		if deadline != "" && validHeader(deadline) {
			m.Header.Set("Micro-Deadline", deadline)
		}
		if validHeaderKey(key) && validHeader(value) {
			m.Header.Add(key, value)
		}
		reply, err := nc.RequestMsg(m, 10*time.Second)
		if err != nil {
			t.Fatalf("no answer to %q: %v", m.Subject, err)
		}
		code := micro.OK
		if c := reply.Header.Get("Nats-Service-Error-Code"); c != "" {
			n, err := strconv.ParseUint(c, 10, 32)
			if err != nil || n == 0 || n > uint64(micro.Unauthenticated) {
				t.Fatalf("error code %q is not a micro code", c)
			}
			code = micro.Code(n)
		}
		// What the server read as the deadline: the first value of the
		// canonical key wins over other spellings.
		dl := m.Header.Get("Micro-Deadline")
		if dl == "" {
			dl = m.Header.Get("micro-deadline")
		}
		ms, perr := strconv.ParseInt(dl, 10, 64)
		switch {
		case dl != "" && perr != nil:
			if code != micro.InvalidArgument {
				t.Fatalf("deadline %q: %v, want InvalidArgument", dl, code)
			}
		case dl != "" && !time.UnixMilli(ms).After(time.Now()):
			// Expired, or about to be: an unknown service is answered
			// first.
			if code != micro.DeadlineExceeded && code != unknown(service) {
				t.Fatalf("deadline %q in the past: %v, want DeadlineExceeded", dl, code)
			}
		case service != "echo" && service != "headers":
			if code != unknown(service) {
				t.Fatalf("service %q: %v, want %v", service, code, unknown(service))
			}
		case code != micro.OK:
			if code != micro.DeadlineExceeded { // a deadline that passed in flight
				t.Fatalf("service %q: %v %q", service, code, reply.Header.Get("Nats-Service-Error"))
			}
		case service == "echo":
			if string(reply.Data) != string(body) {
				t.Fatalf("echo = %q, want %q", reply.Data, body)
			}
		default:
			checkHeaders(t, reply.Data, func(k string) bool {
				return k == "micro-deadline" || strings.HasPrefix(k, "nats-service-error") || k == "status" || k == "description"
			})
		}
	})
}

// validToken reports whether s is one NATS subject token.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ". \t\r\n*>")
}

// validHeaderKey reports whether nats.go sends k as a header key: printable
// ASCII but for a few separators.
func validHeaderKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] < 33 || k[i] > 126 || strings.IndexByte(`"()/,:;<=>?@[\]{}`, k[i]) >= 0 {
			return false
		}
	}
	return k != ""
}

// validHeader reports whether v can be a NATS header value: one line, no
// leading or trailing space, which the text protocol does not keep.
func validHeader(v string) bool {
	return !strings.ContainsAny(v, "\r\n") && strings.TrimSpace(v) == v
}

// FuzzKafkaRecord produces request records with plain franz-go, as any
// Kafka producer could, with an arbitrary micro-service header (or none),
// micro-deadline value, extra header and value. Every request whose
// deadline has not passed is answered on its reply topic with its
// correlation id: without a service it is InvalidArgument, for an unknown
// service NotFound (InvalidArgument if its name is not valid); otherwise
// the handler runs without seeing the transport's headers, and its reply
// comes back. A malformed deadline is refused with InvalidArgument or
// ignored.
func FuzzKafkaRecord(f *testing.F) {
	c := kafkatest.Start(f, kafkatest.WithTopics(1, "fz", "fz-replies"))
	run(f, kafka.NewServer(fuzzMux(), kafka.WithBrokers(c.Addrs()...), kafka.WithRetries(0, 0)), 5*time.Second)
	replies := newReplyWaiter(f, c.Addrs(), "fz-replies")
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.Addrs()...))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(prod.Close)
	var seq atomic.Int64
	f.Add("echo", strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10), "x-trace", "1", []byte("x"))
	f.Fuzz(func(t *testing.T, service, deadline, key, value string, body []byte) {
		id := strconv.FormatInt(seq.Add(1), 10)
		r := &kgo.Record{Topic: "fz", Value: body, Headers: []kgo.RecordHeader{
			{Key: "micro-reply-to", Value: []byte("fz-replies")},
			{Key: "micro-correlation-id", Value: []byte(id)},
		}}
		if service != "" {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "micro-service", Value: []byte(service)})
		}
		ms, perr := strconv.ParseInt(deadline, 10, 64)
		if deadline != "" {
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: "micro-deadline", Value: []byte(deadline)})
		}
		switch strings.ToLower(key) {
		case "micro-service", "micro-deadline", "micro-reply-to", "micro-correlation-id":
			// Would change which request this is, or where its reply goes.
		default:
			r.Headers = append(r.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
		}
		expires := perr == nil && deadline != ""
		if expires && time.UnixMilli(ms).Before(time.Now().Add(20*time.Second)) {
			return // expired or about to: it may get no reply, and the test cannot wait for one not coming
		}
		wait := replies.expect(id)
		if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			if len(body) > 512<<10 {
				return // refused by the broker for its size
			}
			t.Fatalf("produce: %v", err)
		}
		var rep *kgo.Record
		select {
		case rep = <-wait:
		case <-time.After(20 * time.Second):
			t.Fatalf("no reply to service %q, deadline %q, header %q", service, deadline, key)
		}
		code := micro.OK
		for _, h := range rep.Headers {
			if h.Key == "micro-error-code" {
				n, err := strconv.ParseUint(string(h.Value), 10, 32)
				if err != nil || n == 0 || n > uint64(micro.Unauthenticated) {
					t.Fatalf("error code %q is not a micro code", h.Value)
				}
				code = micro.Code(n)
			}
		}
		switch {
		case service == "":
			if code != micro.InvalidArgument {
				t.Fatalf("no micro-service header: %v, want InvalidArgument", code)
			}
		case deadline != "" && perr != nil && code == micro.InvalidArgument:
			// A malformed deadline may be refused, or ignored.
		case service != "echo" && service != "headers":
			if code != unknown(service) {
				t.Fatalf("service %q: %v, want %v", service, code, unknown(service))
			}
		case code != micro.OK:
			t.Fatalf("service %q: %v", service, code)
		case service == "echo":
			if string(rep.Value) != string(body) {
				t.Fatalf("echo = %q, want %q", rep.Value, body)
			}
		default:
			checkHeaders(t, rep.Value, func(k string) bool {
				return k == "micro-service" || k == "micro-deadline" || k == "micro-reply-to" ||
					k == "micro-correlation-id" || k == "micro-error-code" || k == "micro-error"
			})
		}
	})
}

// replyWaiter reads a reply topic and hands each record to whoever expects
// its correlation id.
type replyWaiter struct {
	mu      sync.Mutex
	waiting map[string]chan *kgo.Record
}

func newReplyWaiter(tb testing.TB, brokers []string, topic string) *replyWaiter {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	w := &replyWaiter{waiting: map[string]chan *kgo.Record{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				for _, h := range r.Headers {
					if h.Key == "micro-correlation-id" {
						w.mu.Lock()
						if ch, ok := w.waiting[string(h.Value)]; ok {
							ch <- r
							delete(w.waiting, string(h.Value))
						}
						w.mu.Unlock()
					}
				}
			})
		}
	}()
	tb.Cleanup(func() { cancel(); <-done; cl.Close() })
	return w
}

// expect returns the channel on which the reply with correlation id will
// come.
func (w *replyWaiter) expect(id string) <-chan *kgo.Record {
	ch := make(chan *kgo.Record, 1)
	w.mu.Lock()
	w.waiting[id] = ch
	w.mu.Unlock()
	return ch
}
