package nats

import "time"

// SetDropReportInterval makes Servers created from now on report dropped
// one-way messages every d, until restore is called.
func SetDropReportInterval(d time.Duration) (restore func()) {
	old := dropReportInterval
	dropReportInterval = d
	return func() { dropReportInterval = old }
}
