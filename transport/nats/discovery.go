package nats

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsmicro "github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"

	"github.com/dancinggopher/micro"
	"github.com/dancinggopher/micro/internal/natsconn"
	"github.com/dancinggopher/micro/transport"
)

// discovery answers the NATS services protocol ($SRV.PING, $SRV.INFO,
// $SRV.STATS) for one Server, in the JSON of nats.go's micro package, and
// keeps the per-endpoint statistics STATS reports.
//
// It does not use natsmicro.AddService: that package ties each endpoint to
// a subscription whose callback runs the handler serially and records its
// statistics around that call, while a Server serves a whole namespace from
// one wildcard subscription and runs handlers concurrently.
type discovery struct {
	identity  natsmicro.ServiceIdentity
	started   time.Time
	endpoints []*endpoint
	byRoute   map[micro.Route]*endpoint
	subs      []*natsgo.Subscription
}

// endpoint is one route as the services protocol shows it.
type endpoint struct {
	info     natsmicro.EndpointInfo
	requests atomic.Int64
	errors   atomic.Int64
	nanos    atomic.Int64
	lastErr  atomic.Pointer[string]
	dropped  atomic.Int64 // one-way messages refused
}

// endpointData is the data of an endpoint's STATS.
type endpointData struct {
	OneWayDropped int64 `json:"one_way_dropped"`
}

func newDiscovery(name, version, prefix, queueGroup string, routes []micro.Route) *discovery {
	d := &discovery{
		identity: natsmicro.ServiceIdentity{Name: name, ID: nuid.Next(), Version: version, Metadata: map[string]string{}},
		started:  time.Now().UTC(),
		byRoute:  make(map[micro.Route]*endpoint, len(routes)),
	}
	for _, r := range routes {
		e := &endpoint{info: natsmicro.EndpointInfo{
			Name:       r.Service,
			Subject:    natsconn.Subject(prefix, r.Namespace, r.Service),
			QueueGroup: queueGroup,
			Metadata:   map[string]string{"namespace": r.Namespace},
		}}
		d.endpoints = append(d.endpoints, e)
		d.byRoute[r] = e
	}
	return d
}

// record counts one handled request of endpoint e, if e is not nil (a
// route Start saw).
func (d *discovery) record(e *endpoint, took time.Duration, err *micro.Error) {
	if e == nil {
		return
	}
	e.requests.Add(1)
	e.nanos.Add(int64(took))
	if err != nil {
		e.errors.Add(1)
		msg := err.Error()
		e.lastErr.Store(&msg)
	}
}

// dropped counts one one-way message of route that was refused, if it is
// a route Start saw.
func (d *discovery) dropped(r micro.Route) {
	if e := d.byRoute[r]; e != nil {
		e.dropped.Add(1)
	}
}

// subscribe answers the three verbs on all three of their subjects: any
// service, services of this name, and this instance.
func (d *discovery) subscribe(nc *natsgo.Conn) error {
	for verb, answer := range map[natsmicro.Verb]func() any{
		natsmicro.PingVerb:  d.ping,
		natsmicro.InfoVerb:  d.info,
		natsmicro.StatsVerb: d.stats,
	} {
		handler := func(m *natsgo.Msg) {
			data, _ := json.Marshal(answer())
			_ = m.Respond(data) // a ping whose asker left needs no answer
		}
		for _, ids := range [][2]string{{"", ""}, {d.identity.Name, ""}, {d.identity.Name, d.identity.ID}} {
			subj, err := natsmicro.ControlSubject(verb, ids[0], ids[1])
			var sub *natsgo.Subscription
			if err == nil {
				sub, err = nc.Subscribe(subj, handler)
			}
			if err != nil {
				return micro.Errorf(micro.Unavailable, "nats: subscribe %s: %w", subj, err)
			}
			d.subs = append(d.subs, sub)
		}
	}
	return nil
}

// unsubscribe stops answering discovery, first thing at Stop, so that
// nothing finds the service while it drains.
func (d *discovery) unsubscribe() {
	for _, sub := range d.subs {
		_ = sub.Unsubscribe()
	}
}

func (d *discovery) ping() any {
	return natsmicro.Ping{ServiceIdentity: d.identity, Type: natsmicro.PingResponseType}
}

func (d *discovery) info() any {
	eps := make([]natsmicro.EndpointInfo, len(d.endpoints))
	for i, e := range d.endpoints {
		eps[i] = e.info
	}
	return natsmicro.Info{ServiceIdentity: d.identity, Type: natsmicro.InfoResponseType, Endpoints: eps}
}

func (d *discovery) stats() any {
	eps := make([]*natsmicro.EndpointStats, len(d.endpoints))
	for i, e := range d.endpoints {
		st := &natsmicro.EndpointStats{
			Name:           e.info.Name,
			Subject:        e.info.Subject,
			QueueGroup:     e.info.QueueGroup,
			NumRequests:    int(e.requests.Load()),
			NumErrors:      int(e.errors.Load()),
			ProcessingTime: time.Duration(e.nanos.Load()),
		}
		if st.NumRequests > 0 {
			st.AverageProcessingTime = st.ProcessingTime / time.Duration(st.NumRequests)
		}
		if p := e.lastErr.Load(); p != nil {
			st.LastError = *p
		}
		st.Data, _ = json.Marshal(endpointData{OneWayDropped: e.dropped.Load()})
		eps[i] = st
	}
	return natsmicro.Stats{ServiceIdentity: d.identity, Type: natsmicro.StatsResponseType, Started: d.started, Endpoints: eps}
}

// semver is the version syntax the services protocol requires (the regexp
// nats.go's micro package checks).
var semver = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// serviceName returns the name to announce: WithServiceName's, which must
// be valid, or the Service's made valid. The services protocol allows
// [A-Za-z0-9_-]+, the same set as micro.ValidName.
func (o *serverOptions) serviceName(ctx context.Context) (string, error) {
	if !semver.MatchString(o.version) {
		return "", fmt.Errorf("nats: service version %q is not a semantic version, as the NATS services protocol requires", o.version)
	}
	if o.name != "" {
		if !transport.ValidName(o.name) {
			return "", fmt.Errorf("nats: service name %q is not valid in the NATS services protocol (want [A-Za-z0-9_-]+)", o.name)
		}
		return o.name, nil
	}
	name := strings.Map(func(r rune) rune {
		if r < 0x80 && transport.ValidName(string(r)) {
			return r
		}
		return '_'
	}, transport.ServiceName(ctx))
	if name == "" {
		return "micro", nil
	}
	return name, nil
}
