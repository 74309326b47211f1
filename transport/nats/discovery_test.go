package nats_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsmicro "github.com/nats-io/nats.go/micro"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/natstest"
	"github.com/dancinggopher/micro/transport/nats"
)

// request sends a services-protocol request and decodes the JSON answer.
func request(t *testing.T, nc *natsgo.Conn, subject string, v any) {
	t.Helper()
	r, err := nc.Request(subject, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("%s: %v in %s", subject, err, r.Data)
	}
}

func TestDiscovery(t *testing.T) {
	ns := natstest.Start(t)
	mux := micro.NewMux()
	mux.HandleFunc("greeter", "hello", func(context.Context, []byte) ([]byte, error) { return nil, nil })
	mux.HandleFunc("greeter", "fail", func(context.Context, []byte) ([]byte, error) {
		return nil, micro.Errorf(micro.Internal, "broken")
	})
	// Run under a Service whose name the protocol does not allow as it is.
	srv := nats.NewServer(mux, nats.WithURL(ns.URL()), nats.WithQueueGroup("greeters"), nats.WithServiceVersion("1.2.3"))
	svc := micro.NewService("greeter v2")
	ctx, cancel := context.WithCancel(testCtx(t))
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(ctx, srv) }()
	defer cancel()
	select {
	case <-svc.Ready():
	case err := <-ran:
		t.Fatalf("Run: %v", err)
	}
	c := newClient(t, ns)
	if _, err := c.Call(testCtx(t), "greeter", "hello", nil); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Call(testCtx(t), "greeter", "fail", nil)

	nc := connect(t, ns)
	var ping natsmicro.Ping
	request(t, nc, "$SRV.PING", &ping)
	if ping.Name != "greeter_v2" || ping.Version != "1.2.3" || ping.ID == "" || ping.Type != natsmicro.PingResponseType {
		t.Fatalf("PING = %+v", ping)
	}

	var info natsmicro.Info
	request(t, nc, "$SRV.INFO.greeter_v2", &info)
	if info.ID != ping.ID || info.Type != natsmicro.InfoResponseType || len(info.Endpoints) != 2 {
		t.Fatalf("INFO = %+v", info)
	}
	for i, want := range []natsmicro.EndpointInfo{
		{Name: "fail", Subject: "greeter.fail", QueueGroup: "greeters"},
		{Name: "hello", Subject: "greeter.hello", QueueGroup: "greeters"},
	} {
		got := info.Endpoints[i]
		if got.Name != want.Name || got.Subject != want.Subject || got.QueueGroup != want.QueueGroup || got.Metadata["namespace"] != "greeter" {
			t.Errorf("endpoint %d = %+v, want %+v", i, got, want)
		}
	}

	var stats natsmicro.Stats
	request(t, nc, "$SRV.STATS.greeter_v2."+ping.ID, &stats)
	if stats.Type != natsmicro.StatsResponseType || len(stats.Endpoints) != 2 {
		t.Fatalf("STATS = %+v", stats)
	}
	if e := stats.Endpoints[0]; e.NumRequests != 1 || e.NumErrors != 1 || e.LastError != "Internal: broken" {
		t.Errorf("stats of fail = %+v", e)
	}
	if e := stats.Endpoints[1]; e.NumRequests != 1 || e.NumErrors != 0 {
		t.Errorf("stats of hello = %+v", e)
	}

	// Stopping leaves discovery.
	cancel()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := nc.Request("$SRV.PING.greeter_v2", nil, 5*time.Second); err != natsgo.ErrNoResponders {
		t.Fatalf("PING after Stop: %v, want no responders", err)
	}
}
