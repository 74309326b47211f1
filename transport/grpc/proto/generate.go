// Package proto holds the wire contract of micro over gRPC and regenerates
// its Go code in micro/v1 with `go generate ./...`. That needs protoc on PATH
// (Debian: apt-get install protobuf-compiler); the plugins are built at the
// pinned versions below, so the output does not depend on what is installed.
package proto

//go:generate sh gen.sh
