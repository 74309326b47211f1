package kafka

import (
	"context"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dancinggopher/micro"
)

// BenchmarkHandleRecord runs one worker's per-record path, without a
// broker: a one-way record of 64 B read (parse), served on its Mux
// (Dispatcher.Serve, with its RequestInfo and Attrs) by a handler that
// does nothing, and finished. It is the CPU and allocations the transport
// adds to each record beside kgo's fetching and marking, which
// BenchmarkConsumeInterleaved times with the broker. Beside the time it
// reports the process's CPU time per record (cpu-ns/op, the collector's
// included), which other load on the machine moves far less:
//
//	go test -run '^$' -bench HandleRecord -benchmem -count 6 ./transport/kafka/
func BenchmarkHandleRecord(b *testing.B) {
	mux := micro.NewMux()
	mux.HandleFunc("bench", "count", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	s := NewServer(mux, WithGroup("bench"))
	s.group, s.log = "bench", slog.New(slog.DiscardHandler)
	s.topics = map[string]string{"bench": "bench"}
	w := s.newWorker(topicPartition{"bench", 3})
	r := &kgo.Record{Topic: "bench", Partition: 3, Value: make([]byte, 64),
		Headers: []kgo.RecordHeader{{Key: hdrService, Value: []byte("count")}}}
	b.ReportAllocs()
	cpu := cpuTime(b)
	for b.Loop() {
		r.Offset++
		if !s.handle(w, r) {
			b.Fatal("record not finished")
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		b.Fatal(err)
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}
