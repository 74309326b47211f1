package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// key names one benchmark configuration.
type key struct {
	Kind      string // Call, Send, SlowCall, Consume, PairedCall, Scale..., MemoryCall
	Transport string
	Impl      string
	Size      string
	Mode      string // mode=seq or par; of a scale curve, its other parameter (servers=3)
	Axis      string // of a scale curve: the parameter on the x axis (callers, goroutines, partitions)
	X         int    // and its value
}

// axes are the parameters a scale curve is plotted against.
var axes = []string{"callers", "goroutines", "partitions", "inflight"}

// curve is k without its point on the x axis: the line k is part of.
func (k key) curve() key { k.X = 0; return k }

// baseline is the raw configuration of the same work as k.
func (k key) baseline() key { k.Impl = "raw"; return k }

// result holds the median of each unit over a configuration's runs.
type result struct {
	Runs   int
	Median map[string]float64 // unit -> median
}

var (
	procSuffix = regexp.MustCompile(`-\d+$`)
	kindOf     = regexp.MustCompile(`^Benchmark(SlowCall|Call|Send|Consume|PairedCall|ScaleCall|ScaleSend|ScaleConsume|MemoryCall)`)
)

// parse reads `go test -bench` output and returns the median of every
// unit of every configuration, and the header lines (goos, cpu, ...).
func parse(r io.Reader) (map[key]*result, map[string]string, error) {
	samples := map[key]map[string][]float64{}
	header := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.HasPrefix(line, "Benchmark") && !strings.Contains(k, " ") {
			header[k] = strings.TrimSpace(v)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		k, err := parseName(procSuffix.ReplaceAllString(f[0], ""))
		if err != nil {
			return nil, nil, err
		}
		if samples[k] == nil {
			samples[k] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", line, err)
			}
			samples[k][f[i+1]] = append(samples[k][f[i+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	results := make(map[key]*result, len(samples))
	for k, units := range samples {
		r := &result{Median: map[string]float64{}}
		for unit, vs := range units {
			r.Median[unit] = median(vs)
			r.Runs = max(r.Runs, len(vs))
		}
		results[k] = r
	}
	return results, header, nil
}

// parseName splits "BenchmarkSendNATS/transport=nats/impl=micro/..." into
// a key.
func parseName(name string) (key, error) {
	parts := strings.Split(name, "/")
	m := kindOf.FindStringSubmatch(parts[0])
	if m == nil {
		return key{}, fmt.Errorf("benchmark %s: unknown kind", name)
	}
	k := key{Kind: m[1]}
	for _, p := range parts[1:] {
		name, value, _ := strings.Cut(p, "=")
		switch name {
		case "transport":
			k.Transport = value
		case "impl":
			k.Impl = value
		case "size":
			k.Size = value
		case "mode":
			k.Mode = value
		default:
			if slices.Contains(axes, name) {
				n, err := strconv.Atoi(value)
				if err != nil {
					return key{}, fmt.Errorf("benchmark %s: %s=%q is not a number", name, name, value)
				}
				k.Axis, k.X = name, n
			} else if value != "" && k.Mode == "" {
				k.Mode = p // a further parameter, such as servers=3
			}
		}
	}
	if k.Transport == "" || k.Impl == "" || k.Size == "" || (k.Mode == "" && k.Axis == "") {
		return key{}, fmt.Errorf("benchmark %s: want transport=, impl=, size= and mode= or a scale parameter (%v)", name, axes)
	}
	return k, nil
}

func median(vs []float64) float64 {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}

// order sorts keys for the table: by kind, transport, size, mode, then impl
// with micro first and raw second.
func order(keys []key) {
	rank := func(list []string, s string) int {
		if i := slices.Index(list, s); i >= 0 {
			return i
		}
		return len(list)
	}
	kinds := []string{"Call", "Send", "Consume", "SlowCall", "PairedCall", "ScaleCall", "ScaleSend", "ScaleConsume", "MemoryCall"}
	transports := []string{"inproc", "grpc", "nats", "http", "kafka", "jetstream"}
	impls := []string{"micro", "raw", "rawhdr"}
	slices.SortFunc(keys, func(a, b key) int {
		for _, c := range []int{
			rank(kinds, a.Kind) - rank(kinds, b.Kind),
			rank(transports, a.Transport) - rank(transports, b.Transport),
			strings.Compare(b.Size, a.Size), // 64B before 4KiB
			modeOrder(a.Mode, b.Mode),
			rank(impls, a.Impl) - rank(impls, b.Impl),
			strings.Compare(a.Impl, b.Impl),
			a.X - b.X,
		} {
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

// modeOrder puts seq before par, and servers=1 before servers=3.
func modeOrder(a, b string) int {
	if strings.HasPrefix(a, "servers=") && strings.HasPrefix(b, "servers=") {
		return strings.Compare(a, b)
	}
	return strings.Compare(b, a)
}
