package kafkatest

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Option configures a cluster made by [Start] or [New].
type Option func(*config)

type config struct {
	brokers  int
	topics   []kfake.Opt
	maxBytes int
	dataDir  string
	kfake    []kfake.Opt
}

// WithNumBrokers sets how many brokers the cluster has. The default is
// one (kfake's own default is three).
func WithNumBrokers(n int) Option {
	return func(c *config) { c.brokers = n }
}

// WithTopics creates topics with the given number of partitions when the
// cluster starts, so that a test need not wait for a server to create
// them. It can be given several times, for topics of different partition
// counts. By default the cluster has no topics, and creates none on use.
func WithTopics(partitions int32, topics ...string) Option {
	return func(c *config) { c.topics = append(c.topics, kfake.SeedTopics(partitions, topics...)) }
}

// WithMaxMessageBytes sets the largest record batch the brokers accept:
// Kafka's message.max.bytes. A service serving payloads near
// micro.DefaultMaxMessageSize needs room for them and their headers. The
// default is Kafka's, 1048588 bytes.
func WithMaxMessageBytes(n int) Option {
	return func(c *config) { c.maxBytes = n }
}

// WithDataDir makes the cluster keep its state in dir, so that
// [Cluster.Restart], or another cluster started on dir, has the topics,
// records and committed offsets of the one before. The directory is not
// removed. By default the state is in memory and lost on restart.
func WithDataDir(dir string) Option {
	return func(c *config) { c.dataDir = dir }
}

// WithClusterOptions passes kfake's own options through, for what this
// package has no option for: SASL, TLS, ACLs, a listen function, group
// timeouts, broker configs, auto-created topics. They are applied after
// this package's options, so they win.
func WithClusterOptions(opts ...kfake.Opt) Option {
	return func(c *config) { c.kfake = append(c.kfake, opts...) }
}

// kfakeOptions returns the kfake options c asks for.
func (c *config) kfakeOptions() []kfake.Opt {
	opts := []kfake.Opt{kfake.NumBrokers(c.brokers)}
	opts = append(opts, c.topics...)
	if c.maxBytes > 0 {
		opts = append(opts, kfake.BrokerConfigs(map[string]string{"message.max.bytes": strconv.Itoa(c.maxBytes)}))
	}
	if c.dataDir != "" {
		opts = append(opts, kfake.DataDir(c.dataDir))
	}
	return append(opts, c.kfake...)
}
