package microtest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	"github.com/dancinggopher/micro/transport/inproc"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// faults breaks the inproc transport in one way each; the suite must catch
// every one, in the named test.
var faults = map[string]string{
	"drop-headers":  "TestConformance/Headers",
	"lose-codes":    "TestConformance/ErrorCodes",
	"stop-abandons": "TestConformance/StopDrains",
	"no-deadline":   "TestConformance/Deadline",
}

// TestSuiteCatchesFaults runs the suite against each broken transport in a
// child process and checks that it fails where it should.
func TestSuiteCatchesFaults(t *testing.T) {
	if os.Getenv("MICROTEST_FAULT") != "" {
		t.Skip("in the child process")
	}
	for fault, where := range faults {
		t.Run(fault, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestConformance$", "-test.v")
			cmd.Env = append(os.Environ(), "MICROTEST_FAULT="+fault)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a transport that does %s", fault)
			}
			if !strings.Contains(string(out), "--- FAIL: "+where+" ") {
				t.Fatalf("fault %s did not fail %s:\n%s", fault, where, out)
			}
		})
	}
}

// TestConformance runs the suite against inproc, broken as MICROTEST_FAULT
// says, or whole.
func TestConformance(t *testing.T) {
	fault := os.Getenv("MICROTEST_FAULT")
	microtest.Run(t, microtest.Transport{
		New: func(t *testing.T, mux *micro.Mux) (micro.Server, micro.Client) {
			srv := inproc.NewServer(mux, inproc.WithMaxMessageSize(1<<10))
			microtest.Serve(t, nil, srv)
			c := &broken{Client: inproc.NewClient(srv), fault: fault}
			if fault == "stop-abandons" {
				return abandoning{srv}, c
			}
			return srv, c
		},
		MaxMessageSize: 1 << 10,
	})
}

type broken struct {
	*inproc.Client
	fault string
}

func (b *broken) Call(ctx context.Context, ns, svc string, req []byte) ([]byte, error) {
	switch b.fault {
	case "drop-headers":
		d, _ := ctx.Deadline()
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(context.Background(), d)
		defer cancel()
	case "no-deadline":
		ctx = context.Background()
	}
	resp, err := b.Client.Call(ctx, ns, svc, req)
	if err != nil && b.fault == "lose-codes" {
		err = micro.NewError(micro.Unknown, err.Error())
	}
	return resp, err
}

// abandoning is a Server whose Stop does not wait for in-flight calls.
type abandoning struct{ *inproc.Server }

func (a abandoning) Stop(context.Context) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = a.Server.Stop(ctx)
	return nil
}
