package kafka

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
)

// Option configures a Server or a Client. Each option's doc says which side
// it applies to; the other side ignores it.
type Option func(*options)

type options struct {
	brokers     []string
	kopts       []kgo.Opt
	prefix      string
	max         int
	log         *slog.Logger
	group       string
	concurrency int
	pollRecords int
	retries     int
	backoff     time.Duration
	retryable   map[micro.Code]bool
	deadLetter  string
	partitions  int32
	replyTopic  string
}

// Defaults of the options.
const (
	DefaultConcurrency = 64                     // WithConcurrency: partitions at once
	DefaultRetries     = 3                      // WithRetries
	DefaultBackoff     = 100 * time.Millisecond // WithRetries
	defaultPollRecords = 1000
	maxBackoff         = 5 * time.Second
	// headroom is what a record may carry besides its payload (headers,
	// framing): the producer's batch limit is the payload limit plus this.
	headroom = 64 << 10
)

func newOptions(opts []Option) options {
	o := options{
		max:         micro.DefaultMaxMessageSize,
		concurrency: DefaultConcurrency,
		pollRecords: defaultPollRecords,
		retries:     DefaultRetries,
		backoff:     DefaultBackoff,
		retryable: map[micro.Code]bool{
			micro.Unavailable: true, micro.ResourceExhausted: true,
			micro.Aborted: true, micro.DeadlineExceeded: true,
		},
	}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithBrokers sets the seed brokers, "host:port" each. Server and Client.
// The default is kgo's, "127.0.0.1:9092"; kgo.SeedBrokers given with
// WithClientOptions has the same effect.
func WithBrokers(addrs ...string) Option {
	return func(o *options) { o.brokers = append(o.brokers[:0:0], addrs...) }
}

// WithClientOptions passes options to the underlying kgo.Client: TLS with
// kgo.DialTLSConfig, SASL with kgo.SASL, timeouts, and so on. Server and
// Client. They apply after the transport's own, so they can override them
// (at the risk of the guarantees, for consumer-group options).
func WithClientOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kopts = append(o.kopts, opts...) }
}

// WithTopicPrefix sets the prefix of every namespace's topic, so that
// namespace "greeter" is topic prefix+"greeter". Server and Client; the
// default is none. The prefix is also that of the client's default reply
// topic.
func WithTopicPrefix(prefix string) Option { return func(o *options) { o.prefix = prefix } }

// WithMaxMessageSize sets the largest request or reply payload in bytes;
// larger ones are answered with ResourceExhausted (by the client before
// producing a request, by the server for a reply). Server and Client; the
// default is micro.DefaultMaxMessageSize. The producer's batch limit
// (kgo.ProducerBatchMaxBytes) is set to n plus 64 KiB for headers, and the
// brokers' message.max.bytes (or the topics' max.message.bytes) must allow
// that much: Kafka's default, about 1 MiB, is less than the default here.
func WithMaxMessageSize(n int) Option { return func(o *options) { o.max = n } }

// WithLogger sets the logger. Server: records that failed for good,
// commits and rebalances; the default is the Service's logger
// (micro.Logger of Start's ctx). Client: replies that could not be read;
// the default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithGroup sets the consumer group of a Server. The default is the name of
// the Service that runs the server (micro.ServiceName of Start's ctx); Start
// fails if there is neither.
func WithGroup(group string) Option { return func(o *options) { o.group = group } }

// WithConcurrency sets how many partitions a Server handles at once: a
// partition's worker takes one of n slots for each batch of records it
// handles (its records are handled one at a time, in order). The default is
// DefaultConcurrency.
func WithConcurrency(n int) Option {
	return func(o *options) { o.concurrency = max(n, 1) }
}

// WithRetries sets how often a Server retries a record whose handler failed
// with a retryable code, and the backoff before the first retry, doubled for
// each next one up to 5s. Server; the default is DefaultRetries after
// DefaultBackoff. WithRetries(0, 0) turns retries off. Retries hold up the
// record's partition (and a rebalance of it) for their whole duration, so
// keep it well under the group's rebalance timeout.
func WithRetries(n int, backoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = max(n, 0), max(backoff, 0) }
}

// WithRetryableCodes sets the handler error codes that a Server retries.
// The default is Unavailable, ResourceExhausted, Aborted and
// DeadlineExceeded. A record past its own deadline is never retried.
func WithRetryableCodes(codes ...micro.Code) Option {
	return func(o *options) {
		o.retryable = make(map[micro.Code]bool, len(codes))
		for _, c := range codes {
			o.retryable[c] = true
		}
	}
}

// WithDeadLetterTopic sets the topic to which a Server produces a record
// that failed for good: its key, value and headers, plus the headers
// micro-error-code and micro-error. The topic is used as given, without the
// prefix. The default is none: such records are logged and skipped.
func WithDeadLetterTopic(topic string) Option { return func(o *options) { o.deadLetter = topic } }

// WithCreateTopics makes a Server's Start create the topics it needs that
// do not exist (its namespaces' and the dead-letter topic) with the given
// number of partitions and the brokers' default replication factor.
// Without it (the default), Start fails if a topic is missing.
func WithCreateTopics(partitions int32) Option {
	return func(o *options) { o.partitions = max(partitions, 1) }
}

// WithReplyTopic sets the topic on which a Client receives the replies of
// its Calls. It must exist; the client reads it from its end, without a
// consumer group, and ignores replies to other clients, so several clients
// can share it. Client; the default is a topic of one partition that the
// client creates at its first Call, named "[prefix]micro-reply-<random>",
// and deletes at Close.
func WithReplyTopic(topic string) Option { return func(o *options) { o.replyTopic = topic } }

// backoffFor returns the backoff before retry number attempt+1: the
// backoff doubled attempt times, at most maxBackoff.
func (o *options) backoffFor(attempt int) time.Duration {
	d := o.backoff
	for ; attempt > 0 && d < maxBackoff; attempt-- {
		d *= 2
	}
	return min(d, maxBackoff)
}

// kgoOptions returns the options common to the server's and the client's
// kgo.Client, then extra, then the user's.
func (o *options) kgoOptions(extra ...kgo.Opt) []kgo.Opt {
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
	kopts = append(kopts, extra...)
	return append(kopts, o.kopts...)
}
