package nats

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dancinggopher/micro"
)

// dropReportInterval is how long a Server gathers dropped one-way
// messages into one WARN line: the first drop after a quiet spell starts
// it, and Stop ends it early. NewServer reads it.
var dropReportInterval = 10 * time.Second

// drops counts the one-way messages a Server refused, which no sender
// hears of, and reports them to the log as one WARN line per
// dropReportInterval rather than one per message.
type drops struct {
	total    atomic.Uint64
	interval time.Duration // dropReportInterval

	mu       sync.Mutex
	log      *slog.Logger
	bound    uint64 // refused at the concurrency bound since the last report
	shut     uint64 // refused while not serving (before Ready, stopping)
	timer    *time.Timer
	stopped  bool
	lastSeen micro.Route
}

// add counts one dropped message of route r, refused with e.
func (d *drops) add(r micro.Route, e *micro.Error, log *slog.Logger) {
	d.total.Add(1)
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.Code == micro.ResourceExhausted {
		d.bound++
	} else {
		d.shut++
	}
	d.lastSeen, d.log = r, log
	if d.timer == nil && !d.stopped {
		d.timer = time.AfterFunc(d.interval, d.report)
	}
}

// report logs what was dropped since the last report, if anything.
func (d *drops) report() {
	d.mu.Lock()
	bound, shut, r, log := d.bound, d.shut, d.lastSeen, d.log
	d.bound, d.shut, d.timer = 0, 0, nil
	d.mu.Unlock()
	if bound+shut == 0 || log == nil {
		return
	}
	log.Warn("nats: one-way messages dropped",
		"count", bound+shut, "concurrency_bound", bound, "not_serving", shut,
		"total", d.total.Load(), "namespace", r.Namespace, "service", r.Service)
}

// stop reports what is left and ends the reports; later drops are
// counted in total only.
func (d *drops) stop() {
	d.mu.Lock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	d.mu.Unlock()
	d.report()
}
