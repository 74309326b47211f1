package lifecycle

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/ctxkey"
)

// Gate admits, bounds and waits for a server's in-flight handlers. It is
// shut until Open, and Close shuts it for good; Enter never blocks.
type Gate struct {
	limit int64 // 0: unbounded
	state atomic.Int64
	idle  chan struct{} // closed once closed with nothing in flight
	once  sync.Once
}

const (
	gateOpen   = 1 << 62
	gateClosed = 1 << 61
	gateCount  = gateClosed - 1
)

// NewGate returns a shut Gate that admits at most limit at once once open,
// or any number if limit is 0.
func NewGate(limit int) *Gate {
	return &Gate{limit: int64(limit), idle: make(chan struct{})}
}

// Open lets Enter admit.
func (g *Gate) Open() {
	for {
		s := g.state.Load()
		if s&gateClosed != 0 || g.state.CompareAndSwap(s, s|gateOpen) {
			return
		}
	}
}

// Enter admits one handler, who must call Leave when done. It returns
// Unavailable if the gate is not open or closed, and ResourceExhausted if
// limit handlers are in flight.
func (g *Gate) Enter() *micro.Error {
	for {
		s := g.state.Load()
		switch {
		case s&gateClosed != 0:
			return errStopping
		case s&gateOpen == 0:
			return errNotRunning
		case g.limit > 0 && s&gateCount >= g.limit:
			return micro.Errorf(micro.ResourceExhausted, ctxkey.RefusedBoundFmt, g.limit)
		}
		if g.state.CompareAndSwap(s, s+1) {
			return nil
		}
	}
}

var (
	errStopping   = micro.NewError(micro.Unavailable, ctxkey.RefusedStopping)
	errNotRunning = micro.NewError(micro.Unavailable, ctxkey.RefusedNotRunning)
)

// Leave ends a handler that Enter admitted.
func (g *Gate) Leave() {
	if s := g.state.Add(-1); s&gateClosed != 0 && s&gateCount == 0 {
		g.once.Do(func() { close(g.idle) })
	}
}

// InFlight returns how many handlers are in flight.
func (g *Gate) InFlight() int { return int(g.state.Load() & gateCount) }

// Close admits no more handlers.
func (g *Gate) Close() {
	if s := g.state.Or(gateClosed); s&gateCount == 0 {
		g.once.Do(func() { close(g.idle) })
	}
}

// Wait returns nil once the gate is closed and every admitted handler has
// left, or ctx's error if ctx ends first.
func (g *Gate) Wait(ctx context.Context) error {
	select {
	case <-g.idle: // first, so that an ended ctx does not hide an idle gate
		return nil
	default:
	}
	select {
	case <-g.idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
