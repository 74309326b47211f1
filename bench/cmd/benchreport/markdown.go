package main

import (
	"cmp"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"
)

type machine struct {
	GoVersion, CPU, OS, Date, Command string
	NumCPU                            int
}

type section struct{ Title, Text string }

// measures says what each kind of benchmark measures.
const measures = `## What is measured

Every benchmark runs in one process: the broker (an embedded nats-server, franz-go's
in-process kfake cluster) or the gRPC server on loopback, the server side and the client
side. The implementations of one row group do the same work, in the same run, with the
same payloads: 64 B and 4 KiB of zeros. **mode=seq** is one caller; **mode=par** is 16
callers at once (` + "`b.RunParallel`" + ` with 16 goroutines). time/op is the wall time per
message divided over all callers, so msgs/s = 1 s ÷ time/op; allocs/op and B/op count
every allocation of the process (client, server, and the in-process broker).

- **Call** — request-reply of an echo handler; the reply is checked.
  - inproc: micro's in-process Client.Call (no network, no raw baseline).
  - grpc: micro's gRPC Client.Call to its Server; **raw** is the generated grpc-go client of
    ` + "`micro.v1.Micro/Call`" + ` to a hand-written service; **gokit** is go-kit's gRPC transport
    (client endpoint + server) with a hand-written service description and the same messages.
  - nats: micro's NATS Client.Call to its Server; **raw** is nats.go ` + "`Conn.Request`" + ` to a queue
    subscription whose callback responds; **natsmicro** is nats.go's ` + "`micro`" + ` package
    (one endpoint) called with ` + "`Conn.Request`" + `.
- **SlowCall** — the same over NATS with a handler that sleeps 1 ms, 16 callers: micro vs
  nats.go ` + "`micro`" + `.
- **Send** — one-way messages, timed from the first publish until a handler has counted the
  last one (so time/op is the pipeline's throughput, not a publish latency). Senders hold at
  most 512 unhandled messages (the same window for every implementation, so that no
  at-most-once path drops messages under a publisher that outruns its consumer; ` + "`BENCH_WINDOW`" + `
  changes it: Watermill's GoChannel, which starts a goroutine per published message that
  then queue for the one subscriber, does better with a smaller backlog).
  - inproc: micro's inproc Client.Send vs **watermill**: Watermill's Router with one handler
    on a GoChannel Pub/Sub (default config: Publish does not wait for the ack).
  - nats: micro's NATS Client.Send (core NATS publish) vs **raw** nats.go ` + "`Publish`" + ` to a
    subscription callback vs **watermill**: watermill-nats's Publisher and Subscriber (core
    NATS, JetStream off, default config: one subscription, each message acked before the next)
    with a Router.
  - kafka (kfake, 4 partitions): micro's Kafka Client.Send, which waits for the broker's ack,
    to its consumer-group Server vs **raw** franz-go ` + "`ProduceSync`" + ` (acks=all, idempotent,
    no linger, records spread over the partitions in turn, as micro's client does) to a
    franz-go group consumer that handles, marks and commits each record as micro's Server does
    vs **watermill**: watermill-kafka's Publisher (Sarama's SyncProducer) and consumer-group
    Subscriber with a Router (Sarama set to speak Kafka 2.8, as for a current cluster;
    Watermill's default, 1.0, works against kfake too).
- **Consume** — Kafka's consuming side alone, draining a backlog: the consumer joins a new
  group and blocks in its handler on a gate record at the head of each partition while b.N
  records are produced behind the gates; the timer runs from opening the gates until the last
  record was handled, so it counts fetching, decoding, dispatching and committing, but not the
  group join or the producer. micro's Kafka Server vs the raw franz-go group consumer above;
  **window** is micro's Server with a commit window ten times the default
  (` + "`WithCommitWindow(10000)`" + `: up to 10 000 records handled again after a crash, not 1000).

- **PairedCall** — gRPC: micro's Call and the raw grpc-go client's interleaved in one loop,
  each iteration one call of each in alternating order, each timed: both see the same moment
  and load (mode=par: 16 goroutines, each alternating). micro/raw is the ratio of their mean
  latencies, the figure the gRPC target checks.
- **Scale curves** — 64 B payloads. NATS (micro, raw, rawhdr) and gRPC (micro, raw) Calls from
  1 to 256 concurrent callers, each its own goroutine, with the p50 and p99 latency of a call;
  inproc Call and Send from 1 to 256 goroutines; Kafka's Consume backlog against the topic's
  partitions (1, 4, 16, 64) with one consumer, and on 16 partitions with three consumers in one
  group (servers=3; the group settles with every partition assigned before the timer starts).
- **Memory under load** — 10k concurrent Calls of 64 B on each transport, to a handler that
  holds every call until all are in it or their number has not grown for 1 s (the transport's
  bound was reached), then releases them; one op is such a wave. B/call and allocs/call count
  every allocation of the process over the wave (runtime/metrics); peak heap is the largest
  live heap (` + "`/memory/classes/heap/objects:bytes`" + `) sampled every 5 ms during it, and
  heap growth/call its growth over the idle heap (after a GC) divided by the 10k calls.
- **rawhdr** (NATS) — the raw nats.go request plus the ` + "`Micro-Deadline`" + ` header micro's wire
  contract puts on every call (a header message), to tell the contract's cost from micro's.

The ratio column is time/op ÷ the raw baseline's time/op of the same row group (1.00 = as
fast as the raw client library, 2.00 = twice the time per message).
`

func markdown(m machine, results map[key]*result, keys []key, cs []check, svgName, stat, notes string, appendix []section) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Benchmarks\n\n")
	p("micro against the raw client libraries and the frameworks its users would otherwise pick\n")
	p("(Watermill, nats.go `micro`, go-kit). Generated by `bench/run.sh` from a real run; do not edit\n")
	p("by hand, run the script again.\n\n")
	p("- Date: %s\n- Go: `%s`\n- Machine: %s, %d CPUs (%s)\n", m.Date, m.GoVersion, m.CPU, m.NumCPU, m.OS)
	if m.Command != "" {
		p("- Command: `%s`\n", m.Command)
	}
	runs := 0
	for _, r := range results {
		runs = max(runs, r.Runs)
	}
	p("- Figures are medians of up to %d runs; benchstat's confidence intervals are in the appendix.\n\n", runs)
	p("![micro's time per message relative to the raw client library, and its throughput relative to the peer frameworks](%s)\n\n", svgName)

	p("## Targets\n\n| goal | issue | compared with | size | mode | measured | |\n|---|---|---|---|---|---|---|\n")
	for _, c := range cs {
		status := "met"
		if !c.Met {
			status = "**missed**"
		}
		issue := "—"
		if c.Target.Issue != 0 {
			issue = fmt.Sprintf("#%d", c.Target.Issue)
		}
		p("| %s | %s | %s | %s | %s | %s | %s |\n", c.Target.Goal, issue, c.Target.Peer, c.Size, or(c.Mode, "—"), c, status)
	}
	p("\n")

	p("## Results\n\n| benchmark | transport | impl | size | mode | time/op | msgs/s | allocs/op | B/op | ÷ raw |\n")
	p("|---|---|---|---|---|---:|---:|---:|---:|---:|\n")
	for _, k := range keys {
		if !mainKey(k) {
			continue
		}
		r := results[k]
		ratio := "—"
		if base := results[k.baseline()]; base != nil {
			ratio = fmt.Sprintf("%.2f×", r.Median["ns/op"]/base.Median["ns/op"])
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.Kind, k.Transport, k.Impl, k.Size, k.Mode,
			duration(r.Median["ns/op"]), count(r.Median["msgs/s"]), count(r.Median["allocs/op"]), bytes(r.Median["B/op"]), ratio)
	}
	for _, k := range keys {
		if v, ok := results[k].Median["ms/handler"]; ok {
			p("\n- %s %s %s: the handler's 1 ms sleep took %.2f ms on average.", k.Kind, k.Transport, k.Impl, v)
		}
	}
	p("\n\n")
	paired(p, results, keys)
	scale(p, results, keys, svgName)
	memory(p, results, keys)
	p("%s\n", measures)
	p("## Running\n\n```sh\nbench/run.sh   # rewrites this page and its charts; knobs at the top of run.sh\n")
	p("COUNT=2 BENCHTIME=200ms SCALETIME=100ms CONSUME=20000 SCALECONSUME=10000 MEMCOUNT=1 PROFILE=0 bench/run.sh   # a quick look\n")
	p("cd bench && go test -run '^$' -bench . -benchtime=1x ./...   # every benchmark once, as CI does\n```\n\n")
	p("`bench/` is a module of its own (with `replace github.com/dancinggopher/micro => ../`), so the\n")
	p("library's go.mod gains none of the compared frameworks.\n\n")
	if notes != "" {
		p("## Where the time goes\n\n%s\n\n", strings.TrimSpace(notes))
	}
	for _, s := range appendix {
		p("## %s\n\n```\n%s\n```\n\n", s.Title, strings.TrimSpace(s.Text))
	}
	if stat != "" {
		p("## benchstat\n\nEach table compares the implementations (columns) of the same work; the first column is\nthe base of the ± deltas.\n\n```\n%s\n```\n", strings.TrimSpace(stat))
	}
	return b.String()
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// paired writes the table of the paired benchmarks.
func paired(p func(string, ...any), results map[key]*result, keys []key) {
	head := false
	for _, k := range keys {
		if k.Kind != "PairedCall" {
			continue
		}
		if !head {
			p("## Paired\n\nmicro and the raw client interleaved in one loop (see below); each side's mean latency per call.\n\n")
			p("| transport | size | mode | micro | raw | micro ÷ raw | allocs/op (pair) |\n|---|---|---|---:|---:|---:|---:|\n")
			head = true
		}
		r := results[k].Median
		p("| %s | %s | %s | %s | %s | %.3f× | %s |\n", k.Transport, k.Size, k.Mode,
			duration(r["micro-ns/call"]), duration(r["raw-ns/call"]), r["micro/raw"], count(r["allocs/op"]))
	}
	if head {
		p("\n")
	}
}

// scale writes each transport's scale curves: the chart, a table, and
// where each curve's throughput peaks.
func scale(p func(string, ...any), results map[key]*result, keys []key, svgName string) {
	curves, transports := scaleCurves(keys)
	if len(transports) == 0 {
		return
	}
	p("## Scale curves\n\n64 B payloads. Throughput and (for Calls) the p50 and p99 latency of one call against the\n")
	p("number of concurrent callers, goroutines or partitions. The machine has %d CPUs and runs the\n", runtime.NumCPU())
	p("broker, the server and the callers; where a curve flattens, the CPUs are full.\n\n")
	dir := path.Dir(svgName)
	for _, t := range transports {
		file := "scale-" + t + ".svg"
		if dir != "." {
			file = path.Join(dir, file)
		}
		p("### %s\n\n![%s scale curves](%s)\n\n", t, t, file)
		p("| benchmark | impl | parameter | x | msgs/s | p50 | p99 | allocs/op | msgs/s ÷ raw |\n|---|---|---|---:|---:|---:|---:|---:|---:|\n")
		for _, c := range curves[t] {
			for _, k := range keys {
				if k.curve() != c {
					continue
				}
				r := results[k].Median
				ratio := "—"
				if base := results[k.baseline()]; base != nil && k.Impl != "raw" && base.Median["msgs/s"] > 0 {
					ratio = fmt.Sprintf("%.2f×", r["msgs/s"]/base.Median["msgs/s"])
				}
				lat := func(unit string) string {
					if v, ok := r[unit]; ok {
						return duration(v)
					}
					return "—"
				}
				p("| %s | %s | %s | %d | %s | %s | %s | %s | %s |\n", k.Kind, k.Impl, or(k.Mode, "")+" "+k.Axis, k.X,
					count(r["msgs/s"]), lat("p50-ns"), lat("p99-ns"), count(r["allocs/op"]), ratio)
			}
		}
		p("\n")
		for _, c := range curves[t] {
			ps := points(results, keys, c, "msgs/s")
			if len(ps) < 2 {
				continue
			}
			best := slices.MaxFunc(ps, func(a, b point) int { return cmp.Compare(a.Y, b.Y) })
			p("- %s %s: peaks at %s=%g with %s msgs/s (%s at %s=%g, %s at %s=%g).\n", c.Kind, curveName(c, 1), c.Axis, best.X, count(best.Y),
				count(ps[0].Y), c.Axis, ps[0].X, count(ps[len(ps)-1].Y), c.Axis, ps[len(ps)-1].X)
		}
		p("\n")
	}
}

// bounds names, per transport, what stops the calls in flight from
// growing without limit.
var bounds = map[string]string{
	"inproc":    "none: a Call runs its handler on the caller's goroutine, so only the callers bound it",
	"grpc":      "none in micro: grpc-go's MaxConcurrentStreams (unlimited by default; `WithServerOptions`) and HTTP/2 flow control",
	"nats":      "`WithConcurrency` (`DefaultConcurrency` 1024) handlers at once; the rest are refused at once with ResourceExhausted",
	"http":      "`WithConcurrency` (`DefaultConcurrency` 1024) handlers at once, the rest refused with ResourceExhausted; net/http's client dials a connection per concurrent call, so connection setup (the listen backlog) can hold calls back before that",
	"kafka":     "one handler per partition at a time (a partition's records in order), at most `WithConcurrency` (64) partitions: the topic's 4 here; the rest wait in the topic",
	"jetstream": "`WithConcurrency` (`DefaultConcurrency` 512) handlers at once per stream, `WithMaxAckPending` (1000) delivered unacknowledged; the rest wait in the stream",
}

// memory writes the table of BenchmarkMemoryCall beside each transport's
// Call throughput.
func memory(p func(string, ...any), results map[key]*result, keys []key) {
	head := false
	for _, k := range keys {
		if k.Kind != "MemoryCall" {
			continue
		}
		if !head {
			p("## Memory under load\n\n%d concurrent Calls of 64 B per wave; what a wave allocated per call, the peak live heap\n", k.X)
			p("during it, and its growth over the idle heap per concurrent call. Throughput is the Call row of the\n")
			p("Results (64 B, 16 callers) where there is one.\n\n")
			p("| transport | in a handler at once | refused | no reply in 30 s | B/call | allocs/call | peak heap | heap growth / call | goroutines | wave | Call msgs/s | bound |\n")
			p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
			head = true
		}
		r := results[k].Median
		rate := "—"
		if c := results[key{Kind: "Call", Transport: k.Transport, Impl: "micro", Size: "64B", Mode: "par"}]; c != nil {
			rate = count(c.Median["msgs/s"])
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", k.Transport, count(r["inflight"]), count(r["refused"]), count(r["timedout"]),
			bytes(r["B/call"]), count(r["allocs/call"]), mib(r["peak-heap-B"]), bytes(r["heap-B/call"]),
			count(r["goroutines"]), duration(r["ns/op"]), rate, or(bounds[k.Transport], "—"))
	}
	if head {
		p("\n")
	}
}

func mib(v float64) string { return fmt.Sprintf("%.1f MiB", v/(1<<20)) }

func duration(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func count(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1f k", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func bytes(v float64) string {
	if v >= 10<<10 {
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}
