// Package testutil is the scaffolding micro's own tests share: TLS
// certificates made for one test, and assertions on micro's error codes.
// It is internal: users test their services with microtest, natstest and
// kafkatest.
package testutil
