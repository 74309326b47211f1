// Package scorecard holds the reliability tests that hold every transport of
// micro to the same bar: shutdown under load, bounded resources under
// overload, the message size limit, and goroutine and connection hygiene.
// It has no API; its tests run table-driven over inproc, gRPC, NATS and
// Kafka, each on in-process parts (an embedded nats-server, franz-go's kfake
// cluster, gRPC on loopback). docs/guarantees.md names the tests here that
// prove each written guarantee.
//
// Its fuzz targets (FuzzGRPCRequest, FuzzNATSRequest, FuzzKafkaRecord) send
// untrusted input to a running server through the real wire; their seed
// corpus under testdata/fuzz replays in every go test run.
//
// The default run is the CI run. MICRO_SCORECARD_LONG=1 runs the long
// variants: more calls in flight and a longer overload.
package scorecard
