package otelmicro

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/transport"
)

// The semantic conventions this package follows. Their names are those of
// release v1.44.0 of open-telemetry/semantic-conventions; go.opentelemetry.io/otel
// ships Go constants only up to v1.43.0, so they are spelled out here.
const (
	schemaURL = "https://opentelemetry.io/schemas/1.44.0"
	scope     = "github.com/dancinggopher/micro/otelmicro"

	keyRPCSystem      = attribute.Key("rpc.system.name")
	keyRPCMethod      = attribute.Key("rpc.method")
	keyRPCStatus      = attribute.Key("rpc.response.status_code")
	keyErrorType      = attribute.Key("error.type")
	keyMsgSystem      = attribute.Key("messaging.system")
	keyMsgDest        = attribute.Key("messaging.destination.name")
	keyMsgOpType      = attribute.Key("messaging.operation.type")
	keyMsgOpName      = attribute.Key("messaging.operation.name")
	keyNamespace      = attribute.Key("micro.namespace")
	keyService        = attribute.Key("micro.service")
	keyTransport      = attribute.Key("micro.transport")
	keyOutcome        = attribute.Key("micro.delivery.outcome") // RequestInfo.Outcome's answer
	rpcSystem         = "micro"
	opSend, opProcess = "send", "process"
)

// numCodes is the number of codes a call ends with: OK and gRPC's 1 to 16.
const numCodes = int(micro.Unauthenticated) + 1

// codeNames are the codes as gRPC's status names spell them, which is how
// the conventions write rpc.response.status_code and error.type.
var codeNames = [numCodes]string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
	"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
	"INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
}

// serverFault marks the codes that make a server span an error, as the gRPC
// conventions list them: the others are the caller's fault, errors on the
// client span only.
var serverFault = [numCodes]bool{
	micro.Unknown: true, micro.DeadlineExceeded: true, micro.Unimplemented: true,
	micro.Internal: true, micro.Unavailable: true, micro.DataLoss: true,
}

// messagingSystem returns messaging.system for a transport: the conventions
// know "kafka"; NATS and JetStream are "nats"; the others are micro itself.
func messagingSystem(transport string) string {
	switch transport {
	case "kafka":
		return "kafka"
	case "nats", "jetstream":
		return "nats"
	}
	return rpcSystem
}

// destination returns messaging.destination.name for a route: the Kafka
// topic is the namespace (before any prefix a server or client adds), the
// NATS subject namespace.service, which is the route on other media too.
func destination(transport, namespace, route string) string {
	if transport == "kafka" {
		return namespace
	}
	return route
}

// codeOf returns the code a call ended with, as every transport normalizes
// it: OK for no error (a nil pointer in an error included), Unknown for a
// code outside 1 to 16.
func codeOf(err error) micro.Code {
	if err == nil || transport.IsNil(err) {
		return micro.OK
	}
	c := micro.CodeOf(err)
	if c == micro.OK || c > micro.Unauthenticated {
		return micro.Unknown
	}
	return c
}
