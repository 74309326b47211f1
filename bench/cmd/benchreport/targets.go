package main

import "fmt"

// target is one goal of micro, checked per payload size and mode wherever
// it was measured: either micro's figure of Metric against the same
// figure of the implementation Against, or (Against empty) micro's own
// figure of Metric.
type target struct {
	Goal      string
	Issue     int // the issue that set the target, 0 if none
	Kind      string
	Transport string
	Impl      string  // the implementation checked; "" is micro
	Size      string  // "" is every size
	Mode      string  // "" is every mode
	Against   string  // the impl micro is compared with; "" for an absolute target
	Metric    string  // the unit compared: ns/op, msgs/s, allocs/op, micro/raw
	Max       float64 // if set: the value must be at most this
	Min       float64 // else: at least this
	Peer      string  // what Against is, for the reader
}

var targets = []target{
	// Issue 16: the gaps to the raw client libraries.
	{Goal: "NATS Send ≤ 1.5× raw time", Issue: 16, Kind: "Send", Transport: "nats", Size: "64B", Against: "raw", Metric: "ns/op", Max: 1.5, Peer: "nats.go Publish + subscription callback"},
	{Goal: "NATS Call, 16 callers ≤ 1.10× raw with the deadline header", Issue: 16, Kind: "Call", Transport: "nats", Size: "64B", Mode: "par", Against: "rawhdr", Metric: "ns/op", Max: 1.10, Peer: "nats.go Request + Micro-Deadline header"},
	{Goal: "NATS Call, 16 callers ≤ 1.25× raw", Issue: 16, Kind: "Call", Transport: "nats", Size: "64B", Mode: "par", Against: "raw", Metric: "ns/op", Max: 1.25, Peer: "nats.go Request"},
	{Goal: "Kafka consume 64 B ≥ 0.85× raw", Issue: 16, Kind: "Consume", Transport: "kafka", Size: "64B", Against: "raw", Metric: "msgs/s", Min: 0.85, Peer: "franz-go group consumer"},
	{Goal: "Kafka consume 4 KiB ≥ 1.0× raw", Issue: 16, Kind: "Consume", Transport: "kafka", Size: "4KiB", Against: "raw", Metric: "msgs/s", Min: 1.0, Peer: "franz-go group consumer"},
	{Goal: "inproc Call ≤ 2 allocs/op", Issue: 16, Kind: "Call", Transport: "inproc", Metric: "allocs/op", Max: 2, Peer: "—"},
	{Goal: "gRPC Call, paired, ≤ 1.05× raw", Issue: 16, Kind: "PairedCall", Transport: "grpc", Impl: "paired", Metric: "micro/raw", Max: 1.05, Peer: "grpc-go generated client, interleaved"},
	// The frameworks micro's users would otherwise pick.
	{Goal: "≥ 20× Watermill GoChannel (micro inproc)", Kind: "Send", Transport: "inproc", Against: "watermill", Metric: "msgs/s", Min: 20, Peer: "Watermill Router + GoChannel"},
	{Goal: "≥ 8× Watermill over NATS", Kind: "Send", Transport: "nats", Against: "watermill", Metric: "msgs/s", Min: 8, Peer: "Watermill Router + watermill-nats"},
	{Goal: "≥ 30× Watermill over Kafka", Kind: "Send", Transport: "kafka", Against: "watermill", Metric: "msgs/s", Min: 30, Peer: "Watermill Router + watermill-kafka"},
	{Goal: "≥ 10× nats.go micro, 1 ms handler, 16 callers", Kind: "SlowCall", Transport: "nats", Against: "natsmicro", Metric: "msgs/s", Min: 10, Peer: "nats.go micro"},
	// A JetStream comparison (bench/jetstream_test.go) adds its target here.
}

// check is one target checked on one size and mode.
type check struct {
	Target     target
	Size, Mode string
	Value      float64 // the ratio (or, without Against, micro's figure)
	Met        bool
}

func (c check) String() string {
	bound, limit := "≥", c.Target.Min
	if c.Target.Max > 0 {
		bound, limit = "≤", c.Target.Max
	}
	switch {
	case c.Target.Metric == "micro/raw":
		return fmt.Sprintf("%.3f× time per call (target %s %.2f×)", c.Value, bound, limit)
	case c.Target.Against == "":
		return fmt.Sprintf("%.1f %s (target %s %g)", c.Value, c.Target.Metric, bound, limit)
	case c.Target.Metric == "ns/op":
		return fmt.Sprintf("%.3f× time/op (target %s %.2f×)", c.Value, bound, limit)
	}
	return fmt.Sprintf("%.2f× %s (target %s %g×)", c.Value, c.Target.Metric, bound, limit)
}

// checks evaluates every target on every size and mode measured.
func checks(results map[key]*result, keys []key) []check {
	var out []check
	for _, t := range targets {
		impl := t.Impl
		if impl == "" {
			impl = "micro"
		}
		for _, k := range keys {
			if k.Kind != t.Kind || k.Transport != t.Transport || k.Impl != impl || k.Axis != "" ||
				(t.Size != "" && k.Size != t.Size) || (t.Mode != "" && k.Mode != t.Mode) {
				continue
			}
			v, ok := results[k].Median[t.Metric]
			if !ok {
				continue
			}
			if t.Against != "" {
				other := k
				other.Impl = t.Against
				o := results[other]
				if o == nil || o.Median[t.Metric] == 0 {
					continue
				}
				v /= o.Median[t.Metric]
			}
			c := check{Target: t, Size: k.Size, Mode: k.Mode, Value: v}
			if t.Max > 0 {
				c.Met = v <= t.Max
			} else {
				c.Met = v >= t.Min
			}
			out = append(out, c)
		}
	}
	return out
}
