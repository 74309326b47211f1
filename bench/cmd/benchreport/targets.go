package main

import "fmt"

// target is one goal of micro against a baseline, checked per payload size
// and mode wherever both were measured.
type target struct {
	Goal      string
	Kind      string
	Transport string
	Against   string  // the impl micro is compared with
	MaxTime   float64 // if set: micro's time/op ÷ Against's must be at most this
	MinRate   float64 // else: micro's msgs/s ÷ Against's must be at least this
	Peer      string  // what Against is, for the reader
}

var targets = []target{
	{Goal: "within 5% of raw gRPC", Kind: "Call", Transport: "grpc", Against: "raw", MaxTime: 1.05, Peer: "grpc-go generated client"},
	{Goal: "within 5% of raw NATS", Kind: "Call", Transport: "nats", Against: "raw", MaxTime: 1.05, Peer: "nats.go Request"},
	{Goal: "≥ 0.9× raw Kafka consume", Kind: "Consume", Transport: "kafka", Against: "raw", MinRate: 0.9, Peer: "franz-go group consumer"},
	{Goal: "≥ 20× Watermill GoChannel (micro inproc)", Kind: "Send", Transport: "inproc", Against: "watermill", MinRate: 20, Peer: "Watermill Router + GoChannel"},
	{Goal: "≥ 8× Watermill over NATS", Kind: "Send", Transport: "nats", Against: "watermill", MinRate: 8, Peer: "Watermill Router + watermill-nats"},
	{Goal: "≥ 30× Watermill over Kafka", Kind: "Send", Transport: "kafka", Against: "watermill", MinRate: 30, Peer: "Watermill Router + watermill-kafka"},
	{Goal: "≥ 10× nats.go micro, 1 ms handler, 16 callers", Kind: "SlowCall", Transport: "nats", Against: "natsmicro", MinRate: 10, Peer: "nats.go micro"},
}

// check is one target checked on one size and mode.
type check struct {
	Target     target
	Size, Mode string
	Value      float64 // time ratio if Target.MaxTime is set, else rate ratio
	Met        bool
}

func (c check) String() string {
	if c.Target.MaxTime > 0 {
		return fmt.Sprintf("%.3f× time/op (target ≤ %.2f×)", c.Value, c.Target.MaxTime)
	}
	return fmt.Sprintf("%.2f× msgs/s (target ≥ %g×)", c.Value, c.Target.MinRate)
}

// checks evaluates every target on every size and mode measured.
func checks(results map[key]*result, keys []key) []check {
	var out []check
	for _, t := range targets {
		for _, k := range keys {
			if k.Kind != t.Kind || k.Transport != t.Transport || k.Impl != "micro" {
				continue
			}
			other := k
			other.Impl = t.Against
			m, o := results[k], results[other]
			if o == nil {
				continue
			}
			c := check{Target: t, Size: k.Size, Mode: k.Mode}
			if t.MaxTime > 0 {
				c.Value = m.Median["ns/op"] / o.Median["ns/op"]
				c.Met = c.Value <= t.MaxTime
			} else {
				c.Value = m.Median["msgs/s"] / o.Median["msgs/s"]
				c.Met = c.Value >= t.MinRate
			}
			out = append(out, c)
		}
	}
	return out
}
