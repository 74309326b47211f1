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
	Kind      string // Call, Send, SlowCall or Consume
	Transport string
	Impl      string
	Size      string
	Mode      string
}

// baseline is the raw configuration of the same work as k.
func (k key) baseline() key { k.Impl = "raw"; return k }

// result holds the median of each unit over a configuration's runs.
type result struct {
	Runs   int
	Median map[string]float64 // unit -> median
}

var (
	procSuffix = regexp.MustCompile(`-\d+$`)
	kindOf     = regexp.MustCompile(`^Benchmark(SlowCall|Call|Send|Consume)`)
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
		}
	}
	if k.Transport == "" || k.Impl == "" || k.Size == "" || k.Mode == "" {
		return key{}, fmt.Errorf("benchmark %s: want transport=, impl=, size= and mode=", name)
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
	kinds := []string{"Call", "Send", "Consume", "SlowCall"}
	transports := []string{"inproc", "grpc", "nats", "kafka"}
	impls := []string{"micro", "raw"}
	slices.SortFunc(keys, func(a, b key) int {
		for _, c := range []int{
			rank(kinds, a.Kind) - rank(kinds, b.Kind),
			rank(transports, a.Transport) - rank(transports, b.Transport),
			strings.Compare(b.Size, a.Size), // 64B before 4KiB
			strings.Compare(b.Mode, a.Mode), // seq before par
			rank(impls, a.Impl) - rank(impls, b.Impl),
			strings.Compare(a.Impl, b.Impl),
		} {
			if c != 0 {
				return c
			}
		}
		return 0
	})
}
