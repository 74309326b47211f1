package lifecycle

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, s *Server) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Start(t.Context()) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Start = %v before Ready", err)
	}
	return done
}

func noSetup(context.Context) error { return nil }

func TestStopBeforeStart(t *testing.T) {
	s := New("x", 0, Hooks{Setup: func(context.Context) error { t.Error("setup ran after Stop"); return nil }})
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); !errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("Start after Stop = %v, want ErrServerStopped", err)
	}
	if e := s.Gate().Enter(); micro.CodeOf(e) != micro.Unavailable {
		t.Fatalf("Enter after Stop = %v, want Unavailable", e)
	}
}

func TestStopDuringSetup(t *testing.T) {
	released := make(chan struct{})
	inSetup := make(chan struct{})
	s := New("x", 0, Hooks{
		Setup: func(ctx context.Context) error {
			close(inSetup)
			<-ctx.Done() // a dial that Stop cancels
			return ctx.Err()
		},
		Release: func(context.Context) error { close(released); return nil },
	})
	done := make(chan error, 1)
	go func() { done <- s.Start(t.Context()) }()
	<-inSetup
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("Stop during setup = %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Start stopped during setup = %v, want nil", err)
	}
	select {
	case <-released:
		t.Fatal("Release ran for a setup that failed")
	default:
	}
}

func TestStartTwice(t *testing.T) {
	s := New("x", 0, Hooks{Setup: noSetup})
	done := start(t, s)
	if err := s.Start(t.Context()); err == nil || errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("second Start = %v, want an error", err)
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Start = %v after Stop", err)
	}
	if err := s.Start(t.Context()); !errors.Is(err, micro.ErrServerStopped) {
		t.Fatalf("Start after a run = %v, want ErrServerStopped", err)
	}
}

func TestStopDrainsGate(t *testing.T) {
	released := make(chan struct{})
	s := New("x", 0, Hooks{Setup: noSetup, Release: func(context.Context) error { close(released); return nil }})
	done := start(t, s)
	if e := s.Gate().Enter(); e != nil {
		t.Fatal(e)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(t.Context()) }()
	// Stop must wait: intake is closed at once, release waits for Leave.
	deadline := time.Now().Add(10 * time.Second)
	for s.Gate().Enter() == nil {
		s.Gate().Leave()
		if time.Now().After(deadline) {
			t.Fatal("gate still admits after Stop")
		}
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with a handler in flight", err)
	case <-released:
		t.Fatal("released with a handler in flight")
	default:
	}
	s.Gate().Leave()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	<-released
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStopDeadlineAbandons(t *testing.T) {
	abandoned, released := make(chan struct{}), make(chan struct{})
	s := New("x", 0, Hooks{
		Setup:   noSetup,
		Abandon: func() { close(abandoned) },
		Release: func(context.Context) error { close(released); return nil },
	})
	done := start(t, s)
	if e := s.Gate().Enter(); e != nil {
		t.Fatal(e)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop past its deadline = %v", err)
	}
	<-abandoned
	if s.Base().Err() == nil {
		t.Fatal("base context not cancelled when Stop gave up")
	}
	short, cancelShort := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancelShort()
	if err := s.Stop(short); err == nil {
		t.Fatal("second Stop = nil with the abandoned handler still running")
	}
	s.Gate().Leave()
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("Stop after the handler left = %v", err)
	}
	<-released
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// serveUntilLost is a Serve hook that serves until Stop, or until lost is
// closed: the medium gone for good.
func serveUntilLost(lost <-chan struct{}) func(stop <-chan struct{}) error {
	return func(stop <-chan struct{}) error {
		select {
		case <-stop:
			return nil
		case <-lost:
			return errors.New("connection closed")
		}
	}
}

func TestLostServing(t *testing.T) {
	lost := make(chan struct{})
	released := make(chan struct{})
	s := New("x", 0, Hooks{
		Setup:   noSetup,
		Serve:   serveUntilLost(lost),
		Release: func(context.Context) error { close(released); return nil },
	})
	done := start(t, s)
	close(lost)
	if err := <-done; err == nil || err.Error() != "x: connection closed" {
		t.Fatalf("Start after losing its medium = %v", err)
	}
	<-released
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("Stop after loss = %v", err)
	}
}

// TestLostServingReleases checks that serving lost with no handler in
// flight releases the medium with a live ctx (a final commit, a LeaveGroup)
// and abandons nothing, every time.
func TestLostServingReleases(t *testing.T) {
	for range 50 {
		lost := make(chan struct{})
		var releaseErr error
		abandoned := false
		s := New("x", 0, Hooks{
			Setup:   noSetup,
			Serve:   serveUntilLost(lost),
			Drain:   func(context.Context) error { return nil },
			Abandon: func() { abandoned = true },
			Release: func(ctx context.Context) error { releaseErr = ctx.Err(); return nil },
		})
		done := start(t, s)
		close(lost)
		if err := <-done; err == nil {
			t.Fatal("Start after losing its medium returned nil")
		}
		if err := s.Stop(t.Context()); err != nil {
			t.Fatalf("Stop after loss = %v", err)
		}
		if releaseErr != nil || abandoned {
			t.Fatalf("release ctx error %v, abandoned %v; want a live ctx and nothing abandoned", releaseErr, abandoned)
		}
	}
}

func TestSetupError(t *testing.T) {
	s := New("x", 0, Hooks{Setup: func(context.Context) error { return errors.New("address in use") }})
	if err := s.Start(t.Context()); err == nil || err.Error() != "address in use" {
		t.Fatalf("Start = %v", err)
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestGateBound(t *testing.T) {
	g := NewGate(2)
	if e := g.Enter(); micro.CodeOf(e) != micro.Unavailable {
		t.Fatalf("Enter before Open = %v", e)
	}
	g.Open()
	for range 2 {
		if e := g.Enter(); e != nil {
			t.Fatal(e)
		}
	}
	if e := g.Enter(); micro.CodeOf(e) != micro.ResourceExhausted {
		t.Fatalf("Enter past the bound = %v, want ResourceExhausted", e)
	}
	g.Leave()
	if e := g.Enter(); e != nil {
		t.Fatalf("Enter after a Leave = %v", e)
	}
	g.Close()
	if e := g.Enter(); micro.CodeOf(e) != micro.Unavailable {
		t.Fatalf("Enter after Close = %v", e)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if g.Wait(ctx) == nil {
		t.Fatal("Wait = nil with two in flight")
	}
	g.Leave()
	g.Leave()
	if err := g.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestStartReturnsWithStop checks that Start returns once Stop has, even
// while the medium's Serve still waits for a handler Stop gave up on.
func TestStartReturnsWithStop(t *testing.T) {
	handlerDone := make(chan struct{})
	s := New("x", 0, Hooks{
		Setup: noSetup,
		Serve: func(stop <-chan struct{}) error {
			<-stop
			<-handlerDone // a graceful stop waiting for the handler
			return nil
		},
	})
	done := start(t, s)
	if e := s.Gate().Enter(); e != nil {
		t.Fatal(e)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Start = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Start did not return with Stop while Serve still drained")
	}
	close(handlerDone)
	s.Gate().Leave()
	if err := s.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
}
