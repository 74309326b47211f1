package nats_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	natsmicro "github.com/nats-io/nats.go/micro"

	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// records is a slog.Handler that passes every record to a channel.
type records chan slog.Record

func (r records) Enabled(context.Context, slog.Level) bool { return true }
func (r records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r records) WithGroup(string) slog.Handler            { return r }
func (r records) Handle(_ context.Context, rec slog.Record) error {
	r <- rec.Clone()
	return nil
}

func attrs(rec slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
	return m
}

// waitFor waits until cond holds, checking it every millisecond, or fails
// the test once testCtx ends.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for ctx := testCtx(t); !cond(); {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// TestOneWayDropsCounted fills the concurrency bound with one blocked
// handler and sends more one-way messages: every one of them is dropped,
// counted by Dropped and in STATS, and logged as one WARN line with the
// count.
func TestOneWayDropsCounted(t *testing.T) {
	defer nats.SetDropReportInterval(time.Hour)()
	const sends = 50
	ns := natstest.Start(t)
	logs := make(records, sends+10)
	entered, release := make(chan struct{}, sends), make(chan struct{})
	srv, c := serve(t, ns, echoMux(entered, release), nats.WithConcurrency(1),
		nats.WithLogger(slog.New(logs)), nats.WithServiceName("overload"))
	if err := c.Send(testCtx(t), "test", "block", nil); err != nil {
		t.Fatal(err)
	}
	<-entered
	for range sends - 1 {
		if err := c.Send(testCtx(t), "test", "block", nil); err != nil {
			t.Fatal(err)
		}
	}
	const handled = 1
	waitFor(t, "the drops", func() bool { return srv.Dropped() == sends-handled })

	var stats natsmicro.Stats
	request(t, connect(t, ns), "$SRV.STATS.overload", &stats)
	byName := map[string]int64{}
	for _, e := range stats.Endpoints {
		var data struct {
			OneWayDropped int64 `json:"one_way_dropped"`
		}
		if err := json.Unmarshal(e.Data, &data); err != nil {
			t.Fatalf("STATS data of %s: %v in %s", e.Name, err, e.Data)
		}
		byName[e.Name] = data.OneWayDropped
	}
	if byName["block"] != sends-handled || byName["echo"] != 0 {
		t.Fatalf("one_way_dropped in STATS = %v, want block %d, echo 0", byName, sends-handled)
	}

	close(release)
	if err := srv.Stop(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(entered); n != 0 {
		t.Fatalf("%d more handlers ran past the bound", n)
	}
	if got := srv.Dropped(); got != sends-handled {
		t.Fatalf("Dropped = %d after Stop, want %d", got, sends-handled)
	}
	close(logs)
	var warns []slog.Record
	for rec := range logs {
		if rec.Level >= slog.LevelWarn {
			warns = append(warns, rec)
		}
	}
	if len(warns) != 1 || warns[0].Message != "nats: one-way messages dropped" {
		t.Fatalf("WARN lines = %v, want one about the drops", warns)
	}
	a := attrs(warns[0])
	if a["count"].Uint64() != sends-handled || a["concurrency_bound"].Uint64() != sends-handled ||
		a["not_serving"].Uint64() != 0 || a["total"].Uint64() != sends-handled || a["service"].String() != "block" {
		t.Fatalf("WARN attributes = %v", a)
	}
}

// TestOneWayDropsReportedPerInterval checks that drops are reported while
// serving, without waiting for Stop: one line per interval in which some
// were dropped, whose counts add up to Dropped.
func TestOneWayDropsReportedPerInterval(t *testing.T) {
	defer nats.SetDropReportInterval(10 * time.Millisecond)()
	ns := natstest.Start(t)
	logs := make(records, 100)
	entered, release := make(chan struct{}, 10), make(chan struct{})
	srv, c := serve(t, ns, echoMux(entered, release), nats.WithConcurrency(1), nats.WithLogger(slog.New(logs)))
	defer close(release)
	if err := c.Send(testCtx(t), "test", "block", nil); err != nil {
		t.Fatal(err)
	}
	<-entered
	var dropped, reported uint64
	for _, burst := range []uint64{5, 3} {
		for range burst {
			if err := c.Send(testCtx(t), "test", "block", nil); err != nil {
				t.Fatal(err)
			}
		}
		dropped += burst
		waitFor(t, "the drops", func() bool { return srv.Dropped() == dropped })
		for reported < dropped {
			select {
			case rec := <-logs:
				if rec.Message != "nats: one-way messages dropped" {
					t.Fatalf("log %q", rec.Message)
				}
				reported += attrs(rec)["count"].Uint64()
			case <-testCtx(t).Done():
				t.Fatalf("reported %d of %d drops", reported, dropped)
			}
		}
		if reported != dropped {
			t.Fatalf("reported %d drops, Dropped = %d", reported, dropped)
		}
	}
}
