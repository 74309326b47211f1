package kafka

import (
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// ServerOption configures a Server. Options that configure only a Client
// do not compile where a ServerOption is wanted.
type ServerOption interface{ applyServer(*serverOptions) }

// ClientOption configures a Client. Options that configure only a Server
// do not compile where a ClientOption is wanted.
type ClientOption interface{ applyClient(*clientOptions) }

// Option configures a Server or a Client alike: it is both a ServerOption
// and a ClientOption.
type Option interface {
	ServerOption
	ClientOption
}

// common are the settings of both sides.
type common struct {
	brokers []string
	kopts   []kgo.Opt
	prefix  string
	max     int
	log     *slog.Logger
}

type serverOptions struct {
	common
	group          string
	concurrency    int
	pollRecords    int
	commitWindow   int
	retry          transport.RetryPolicy
	deadLetter     string
	partitions     int32
	produceTimeout time.Duration
}

type clientOptions struct {
	common
	replyTopic string
}

type bothOption func(*common)

func (f bothOption) applyServer(o *serverOptions) { f(&o.common) }
func (f bothOption) applyClient(o *clientOptions) { f(&o.common) }

type serverOption func(*serverOptions)

func (f serverOption) applyServer(o *serverOptions) { f(o) }

type clientOption func(*clientOptions)

func (f clientOption) applyClient(o *clientOptions) { f(o) }

// Defaults of the options.
const (
	DefaultConcurrency    = 64                       // WithConcurrency: partitions at once
	DefaultRetries        = transport.DefaultRetries // WithRetries
	DefaultBackoff        = transport.DefaultBackoff // WithRetries
	DefaultProduceTimeout = 5 * time.Second          // WithProduceTimeout
	DefaultCommitWindow   = 1000                     // WithCommitWindow: records handled but not committed
	defaultPollRecords    = 1000
	// headroom is what a record may carry besides its payload (headers,
	// framing): the producer's batch limit is the payload limit plus this.
	headroom = 64 << 10
)

func newServerOptions(opts []ServerOption) serverOptions {
	o := serverOptions{
		common:         common{max: micro.DefaultMaxMessageSize},
		concurrency:    DefaultConcurrency,
		pollRecords:    defaultPollRecords,
		commitWindow:   DefaultCommitWindow,
		retry:          transport.DefaultRetryPolicy(),
		produceTimeout: DefaultProduceTimeout,
	}
	for _, opt := range opts {
		opt.applyServer(&o)
	}
	return o
}

func newClientOptions(opts []ClientOption) clientOptions {
	o := clientOptions{common: common{max: micro.DefaultMaxMessageSize}}
	for _, opt := range opts {
		opt.applyClient(&o)
	}
	return o
}

// WithBrokers sets the seed brokers, "host:port" each (kgo.SeedBrokers).
// The default is kgo's, "127.0.0.1:9092".
func WithBrokers(addrs ...string) Option {
	return bothOption(func(o *common) { o.brokers = append(o.brokers[:0:0], addrs...) })
}

// WithClientOptions passes options to the underlying kgo.Client: TLS with
// kgo.DialTLSConfig, SASL with kgo.SASL, timeouts, and so on. They apply
// after the transport's own settings, so they can override them, except
// for what a Server's delivery guarantee rests on, which it sets after
// them: the topics it consumes (kgo.ConsumeTopics), kgo.BlockRebalanceOnPoll,
// kgo.AutoCommitMarks and the partition callbacks (kgo.OnPartitionsAssigned,
// Revoked, Lost, CallbackBlocked). A Server's Start fails, with an error naming the
// option, if they undo that guarantee otherwise: kgo.DisableAutoCommit,
// kgo.GreedyAutoCommit, kgo.TransactionalID, kgo.ConsumeRegex,
// kgo.ConsumePartitions, or kgo.RequiredAcks(kgo.NoAck()). The default is
// none.
func WithClientOptions(opts ...kgo.Opt) Option {
	return bothOption(func(o *common) { o.kopts = append(o.kopts, opts...) })
}

// WithTopicPrefix sets the prefix of every namespace's topic, so that
// namespace "greeter" is topic prefix+"greeter". The default is none. The
// prefix is also that of a Client's default reply topic.
func WithTopicPrefix(prefix string) Option {
	return bothOption(func(o *common) { o.prefix = prefix })
}

// WithMaxMessageSize sets the largest request or reply payload in bytes;
// larger ones are answered with ResourceExhausted (by the client before
// producing a request, by the server for a request or a reply). The
// default is micro.DefaultMaxMessageSize. The producer's batch limit
// (kgo.ProducerBatchMaxBytes) is set to n plus 64 KiB for headers, and the
// brokers' message.max.bytes (or the topics' max.message.bytes) must allow
// that much: Kafka's default, about 1 MiB, is less than the default here.
// A value of zero or less means the default.
func WithMaxMessageSize(n int) Option {
	return bothOption(func(o *common) { o.max = sizeOrDefault(n) })
}

// WithLogger sets the logger. Server: records that failed for good,
// commits and rebalances; the default is the Service's logger
// (transport.Logger of Start's ctx). Client: replies that could not be
// read; the default discards.
func WithLogger(l *slog.Logger) Option { return bothOption(func(o *common) { o.log = l }) }

// WithGroup sets the consumer group of a Server (kgo.ConsumerGroup). The
// default is the name of the Service that runs the server
// (transport.ServiceName of Start's ctx); Start fails if there is neither.
func WithGroup(group string) ServerOption {
	return serverOption(func(o *serverOptions) { o.group = group })
}

// WithConcurrency sets how many partitions a Server handles at once: a
// partition's worker takes one of n slots for each batch of records it
// handles (its records are handled one at a time, in order). The default is
// DefaultConcurrency. It maps to no kgo setting.
func WithConcurrency(n int) ServerOption {
	return serverOption(func(o *serverOptions) { o.concurrency = max(n, 1) })
}

// WithCommitWindow sets how many records a Server may have handled, or in
// flight, while they are not known to be committed: n, at least 1; the
// default is [DefaultCommitWindow]. A worker starts its next record only
// while there is room, so n bounds what a member that dies without Stop,
// or loses its generation, leaves to be handled again (duplicates). It
// also bounds throughput: offsets are committed one commit at a time, so a
// Server handles at most about n records per commit round trip (1000 at
// 5 ms is ~200k records/s). Raise it for a broker far away or a fast
// handler, at the price of more records handled twice after a crash. It
// does not change how many records a poll fetches (at most 1000), and it
// maps to no kgo setting.
func WithCommitWindow(n int) ServerOption {
	return serverOption(func(o *serverOptions) { o.commitWindow = max(n, 1) })
}

// WithRetries sets how often a Server retries a record whose handler failed
// with a retryable code, and the backoff before the first retry, doubled for
// each next one up to 5s (transport.MaxBackoff). The default is
// DefaultRetries after DefaultBackoff; WithRetries(0, 0) turns retries off.
// A retry is made only if its backoff ends before the caller's deadline;
// otherwise the caller gets the handler's last error at once. Retries hold
// up the record's partition (and a rebalance of it) for their whole
// duration, so keep them well under the group's rebalance timeout
// (kgo.RebalanceTimeout, 60s by default).
func WithRetries(n int, backoff time.Duration) ServerOption {
	return serverOption(func(o *serverOptions) { o.retry.Retries, o.retry.Backoff = max(n, 0), max(backoff, 0) })
}

// WithRetryableCodes sets the handler error codes that a Server retries;
// none turns retries off. The default is transport.DefaultRetryableCodes:
// Unavailable, ResourceExhausted, Aborted and DeadlineExceeded. A record
// past its own deadline, or one refused before its handler ran
// (malformed, over the size limit), is never retried.
func WithRetryableCodes(codes ...micro.Code) ServerOption {
	return serverOption(func(o *serverOptions) { o.retry.Codes = slices.Clone(codes) })
}

// WithDeadLetterTopic sets the topic to which a Server produces a record
// that failed for good: its key, value and headers, plus the headers
// micro-error-code and micro-error. The topic is used as given, without the
// prefix. The default is none: such records are logged and skipped.
func WithDeadLetterTopic(topic string) ServerOption {
	return serverOption(func(o *serverOptions) { o.deadLetter = topic })
}

// WithCreateTopics makes a Server's Start create the topics it needs that
// do not exist (its namespaces' and the dead-letter topic) with the given
// number of partitions and the brokers' default replication factor.
// Without it (the default), Start fails if a topic is missing.
func WithCreateTopics(partitions int32) ServerOption {
	return serverOption(func(o *serverOptions) { o.partitions = max(partitions, 1) })
}

// WithProduceTimeout bounds how long a Server waits for the broker to
// acknowledge one reply or dead-letter record; a reply is bounded by the
// caller's deadline too. A record whose reply or dead letter could not be
// produced in time (a slow or failing broker) is logged and committed, so
// it holds its partition, and Stop, at most that long. The default is
// DefaultProduceTimeout. It bounds the ctx of each produce, whatever
// kgo.RecordDeliveryTimeout says. A reply to a topic that does not exist
// (deleted, or its caller gone) fails sooner: the server sets
// kgo.UnknownTopicRetries(1), which WithClientOptions may override.
func WithProduceTimeout(d time.Duration) ServerOption {
	return serverOption(func(o *serverOptions) {
		if d > 0 {
			o.produceTimeout = d
		}
	})
}

// WithReplyTopic sets the topic on which a Client receives the replies of
// its Calls. It must exist; the client reads it from its end, without a
// consumer group, and ignores replies to other clients, so several clients
// can share it. The default is a topic of one partition that the client
// creates at its first Call, named "[prefix]micro-reply-<random>", and
// deletes at Close.
func WithReplyTopic(topic string) ClientOption {
	return clientOption(func(o *clientOptions) { o.replyTopic = topic })
}

// kgoOptions returns the options common to the server's and the client's
// kgo.Client, then defaults, then the user's, then pinned.
func (o *common) kgoOptions(defaults []kgo.Opt, pinned ...kgo.Opt) []kgo.Opt {
	kopts := []kgo.Opt{
		kgo.ProducerLinger(0), // request-reply latency over batching
		kgo.ProducerBatchMaxBytes(int32(min(o.max+headroom, 1<<30))),
		kgo.RecordPartitioner(partitioner{}),
		// Kafka's Java default rather than kgo's 5s: a fetch that is in
		// flight when partitions are assigned holds their first records
		// until it returns.
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if len(o.brokers) > 0 {
		kopts = append(kopts, kgo.SeedBrokers(o.brokers...))
	}
	kopts = append(kopts, defaults...)
	kopts = append(kopts, o.kopts...)
	return append(kopts, pinned...)
}

// sizeOrDefault is n, or micro.DefaultMaxMessageSize for n <= 0.
func sizeOrDefault(n int) int {
	if n <= 0 {
		return micro.DefaultMaxMessageSize
	}
	return n
}
