package grpc

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/microtest"
	microv1 "github.com/dancinggopher/micro/transport/grpc/proto/micro/v1"
)

// BenchmarkMethodHandler isolates the server's own work per call, which the
// network benchmarks cannot resolve on a busy machine: decoding the request
// and serving it, in micro's method handler and in the one protoc-gen-go-grpc
// generates for a plain echo service. The ctx carries the metadata gRPC puts
// on every request.
func BenchmarkMethodHandler(b *testing.B) {
	wire, err := proto.Marshal(&microv1.CallRequest{Namespace: "bench", Service: "echo", Data: make([]byte, 64)})
	if err != nil {
		b.Fatal(err)
	}
	dec := func(m any) error { return proto.Unmarshal(wire, m.(proto.Message)) }
	ctx, cancel := context.WithCancel(metadata.NewIncomingContext(context.Background(), metadata.MD{
		":authority": {"127.0.0.1:50051"}, "content-type": {"application/grpc"},
		"user-agent": {"grpc-go/1.85.0"}, "grpc-accept-encoding": {"gzip"},
	}))
	defer cancel()

	mux := micro.NewMux()
	mux.HandleFunc("bench", "echo", func(_ context.Context, req []byte) ([]byte, error) { return req, nil })
	s := NewServer(mux, WithAddress("127.0.0.1:0")) // serving, so that its gate admits
	microtest.Serve(b, nil, s)
	raw := microv1.Micro_ServiceDesc.Methods[0].Handler

	for _, impl := range []struct {
		name string
		run  func() (any, error)
	}{
		{"micro", func() (any, error) { return handleCall(s, ctx, dec, nil) }},
		{"raw", func() (any, error) { return raw(rawEcho{}, ctx, dec, nil) }},
	} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			start := CPUTime()
			for b.Loop() {
				if resp, err := impl.run(); err != nil || len(resp.(*microv1.CallResponse).Data) != 64 {
					b.Fatal(resp, err)
				}
			}
			if used := CPUTime() - start; used > 0 {
				b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

type rawEcho struct {
	microv1.UnimplementedMicroServer
}

func (rawEcho) Call(_ context.Context, req *microv1.CallRequest) (*microv1.CallResponse, error) {
	return &microv1.CallResponse{Data: req.Data}, nil
}
