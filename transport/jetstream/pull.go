package jetstream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/dancinggopher/micro"
)

// A consumer pulls its messages itself, on the core connection, as
// nats.go's Consume does: one subscription to a wildcard inbox of its own
// for all of its pulls, and pull requests ("$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>")
// for as many messages as it has free handler slots, each with a reply
// subject "<inbox>.<id>" of its own, so that a status message of the
// nats-server names the pull it ends. Every pull asks for more bytes than
// its messages can have, so that it ends with a status message whatever
// happens: 409 Batch Completed once it is filled, 408 Request Timeout when
// it expires, each with the count it did not fill (Nats-Pending-Messages),
// whose slots it frees. A pull that ends without a count (409 Leadership
// Change, Consumer Deleted), or with none at all (a reconnect, a
// nats-server restart: it is gone), makes the consumer forget every open
// pull (unless it forgot that one already) and free the slots they held:
// a message of one of them that still comes takes a free slot, or is
// handed back at once if there is none. So the consumer never holds a
// message without a free handler slot, and no slot is lost.

// Status messages of a pull, and their headers (nats.go renders a status
// line as the headers Status and Description).
const (
	hdrStatus       = "Status"
	hdrDescription  = "Description"
	hdrPendingMsgs  = "Nats-Pending-Messages" // how many messages of the pull it ends were not sent
	statusHeartbeat = "100"
	statusNoMsgs    = "404"
	statusTimeout   = "408"
	statusConflict  = "409"
	statusNoResp    = "503" // the request reached no consumer
)

// pullBytes is the max_bytes of a pull: more than its messages can have
// (unless the consumer's MaxRequestMaxBytes is less), so that a filled
// pull ends with 409 Batch Completed rather than silently.
const pullBytes = 1 << 30

// pullGrace is how long past its expiry a pull may be open, without a
// status, before the consumer takes it for gone.
const pullGrace = fetchWait

// open is an open pull: how many messages it asked for, and when the
// consumer gives up waiting for its status.
type open struct {
	n        int
	deadline time.Time
}

// subscribe makes c's inbox subscription.
func (s *Server) subscribe(c *consumer) error {
	c.inbox = s.nc.NewInbox() + "."
	// What the inbox holds is bounded by the slots: the messages of the
	// open pulls, those of pulls forgotten since (as many at most), and a
	// status message per pull. nats.go drops what a full channel cannot
	// take (it is redelivered after its AckWait).
	c.msgs = make(chan *natsgo.Msg, 2*cap(c.slots)+256)
	sub, err := s.nc.ChanSubscribe(c.inbox+"*", c.msgs)
	if err != nil {
		return fmt.Errorf("jetstream: subscribe to the pull inbox: %w", err)
	}
	c.sub = sub
	prefix := natsjs.DefaultAPIPrefix
	if o := s.js.Options(); o.APIPrefix != "" {
		prefix = strings.TrimSuffix(o.APIPrefix, ".") + "."
	} else if o.Domain != "" {
		prefix = "$JS." + o.Domain + ".API."
	}
	c.next = prefix + "CONSUMER.MSG.NEXT." + c.stream + "." + c.cons.CachedInfo().Name
	c.limit(c.cons.CachedInfo().Config)
	return nil
}

// limit sets the bounds of c's pulls by the consumer's config cfg: as
// many messages as c has slots, pullBytes and fetchWait, each cut to the
// consumer's MaxRequestBatch, MaxRequestMaxBytes and MaxRequestExpires.
// Only subscribe, before the pull loop starts, and the pull loop call it;
// only the pull loop reads the bounds.
func (c *consumer) limit(cfg natsjs.ConsumerConfig) {
	c.maxBatch, c.maxBytes, c.expires = cap(c.slots), pullBytes, fetchWait
	if cfg.MaxRequestBatch > 0 {
		c.maxBatch = min(c.maxBatch, cfg.MaxRequestBatch)
	}
	if cfg.MaxRequestMaxBytes > 0 {
		c.maxBytes = min(c.maxBytes, cfg.MaxRequestMaxBytes)
	}
	if cfg.MaxRequestExpires > 0 {
		c.expires = min(c.expires, cfg.MaxRequestExpires)
	}
}

// errLimits wraps the refusal of a pull over the limits of the consumer
// (409 Exceeded MaxRequestBatch, MaxRequestExpires, MaxRequestMaxBytes):
// the consumer was updated since its limits were read; and the end of a
// pull whose next message is larger than its max_bytes (409 Message Size
// Exceeds MaxBytes: the consumer's MaxRequestMaxBytes is less than a
// stored message), which no pull gets until the limit is raised.
var errLimits = errors.New("jetstream: pull over the consumer's limits")

// warnEvery is how many failed pulls in a row are logged at Debug for
// one at Warn: a refusal is logged at Warn at once, and a failure that
// persists every warnEvery times.
const warnEvery = 10

// pull is the loop of one consumer: it sends pull requests for as many
// messages as it has free handler slots, so that no message waits in the
// process unhandled; the head reads them. Pulls overlap: the next is
// sent while the messages of the last are handled. It returns once drain
// stops intake and its last pulls have ended (within fetchWait and
// pullGrace), the connection is closed, or the consumer is gone.
func (s *Server) pull(c *consumer) {
	defer s.loops.Done()
	watching := make(chan struct{})
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		s.watch(c, watching)
	}()
	s.workers.Add(1)
	go s.head(c)
	defer func() {
		close(watching)
		watch.Wait()
		c.abandon()
		_ = c.sub.Unsubscribe()
		close(c.quit) // the head hands back what is left and ends
	}()
	failures := 0
	for {
		n, err, ok := s.reserve(c)
		if !ok {
			s.awaitPulls(c)
			return
		}
		if err == nil && n > 0 {
			err = s.request(c, n)
		}
		if err == nil {
			if c.served.Swap(false) {
				failures = 0
			}
			continue
		}
		if s.nc.IsClosed() {
			return
		}
		if errors.Is(err, natsgo.ErrNoResponders) || errors.Is(err, errLimits) {
			// A pull to a consumer that is gone, or JetStream away; or one
			// the consumer's new limits refused: read them anew.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			info, ierr := c.cons.Info(ctx)
			cancel()
			switch {
			case errors.Is(ierr, natsjs.ErrConsumerNotFound):
				err = ierr
			case ierr == nil:
				c.limit(info.Config)
			}
		}
		if errors.Is(err, natsjs.ErrConsumerDeleted) || errors.Is(err, natsjs.ErrConsumerNotFound) {
			select {
			case s.lost <- micro.Errorf(micro.Unavailable, "jetstream: consumer %q of stream %q: %w", c.cons.CachedInfo().Name, c.stream, err):
			default:
			}
			return
		}
		failures++
		level := slog.LevelDebug
		if errors.Is(err, errLimits) && failures == 1 || failures%warnEvery == 0 {
			level = slog.LevelWarn
		}
		s.log.Log(context.Background(), level, "jetstream: pull failed", "stream", c.stream, "failures", failures, "err", err)
		t := time.NewTimer(min(time.Duration(failures)*100*time.Millisecond, 2*time.Second))
		select {
		case <-t.C:
		case <-s.stopIntake:
			t.Stop()
			s.awaitPulls(c)
			return
		}
	}
}

// request sends a pull request for n messages, holding n slots of c.
func (s *Server) request(c *consumer, n int) error {
	c.mu.Lock()
	c.id++
	id := c.id
	c.pulls[id] = open{n: n, deadline: time.Now().Add(c.expires + pullGrace)}
	c.out.Add(int64(n))
	c.mu.Unlock()
	body := make([]byte, 0, 80)
	body = append(body, `{"batch":`...)
	body = strconv.AppendInt(body, int64(n), 10)
	body = append(body, `,"expires":`...)
	body = strconv.AppendInt(body, c.expires.Nanoseconds(), 10)
	body = append(body, `,"max_bytes":`...)
	body = strconv.AppendInt(body, int64(c.maxBytes), 10)
	body = append(body, '}')
	if err := s.nc.PublishRequest(c.next, c.inbox+strconv.FormatUint(id, 10), body); err != nil {
		c.end(id, n)
		return err
	}
	return nil
}

// reserve takes handler slots of c for a pull and returns how many: at
// least one, and, while pulls are open, at least a quarter of them, so
// that a busy server sends few small pulls; every free one beyond, up to
// the consumer's MaxRequestBatch. It returns an error a status message
// reported instead, with no slot, and false once intake stops.
func (s *Server) reserve(c *consumer) (int, error, bool) {
	select {
	case c.slots <- struct{}{}:
	case err := <-c.failed:
		return 0, err, true
	case <-s.stopIntake:
		return 0, nil, false
	}
	n, least := 1, max(1, min(c.maxBatch, cap(c.slots)/4))
take:
	for n < c.maxBatch {
		select {
		case c.slots <- struct{}{}:
			n++
			continue
		default:
		}
		if n >= least || c.out.Load() == 0 {
			break
		}
		select {
		case c.slots <- struct{}{}:
			n++
		case <-c.ended: // look at out again
		case <-s.stopIntake:
			break take
		}
	}
	select {
	case <-s.stopIntake:
		for range n {
			<-c.slots
		}
		return 0, nil, false
	default:
		return n, nil, true
	}
}

// awaitPulls waits, once intake stopped, until the open pulls of c have
// ended: their status came (the head read every message before it), or
// the watch gave up on them.
func (s *Server) awaitPulls(c *consumer) {
	for {
		c.mu.Lock()
		n := len(c.pulls)
		c.mu.Unlock()
		if n == 0 || s.nc.IsClosed() {
			return
		}
		select {
		case <-c.ended:
		case <-s.closed:
		}
	}
}

// watch runs until stop, and, every half of fetchWait, makes c forget its
// open pulls if one of them is past its deadline with no status: the
// connection was lost, or the nats-server restarted, and it is gone. It
// frees the slots held for messages that will not come: more than the
// open pulls asked for, at two looks in a row (a message nats.go dropped,
// the inbox full; on a replicated consumer, one that a 409 Batch
// Completed counted as sent and a new leader lost). Else they would stay
// taken, and with every slot taken and no pull open, c would pull no more.
func (s *Server) watch(c *consumer, stop <-chan struct{}) {
	t := time.NewTicker(fetchWait / 2)
	defer t.Stop()
	var stale int64 // slots held beyond what the open pulls asked for, at the last look
	for {
		select {
		case <-t.C:
		case <-stop:
			return
		}
		now, late, asked := time.Now(), false, int64(0)
		c.mu.Lock()
		for _, p := range c.pulls {
			late = late || now.After(p.deadline)
			asked += int64(p.n)
		}
		// Each message that came took one of out, so out exceeds what the
		// open pulls asked for by no more than the slots of messages that
		// ended pulls counted and that did not come.
		excess, freed := c.out.Load()-asked, int64(0)
		if excess > 0 && stale > 0 {
			freed = min(excess, stale)
			c.free(freed)
			c.signal()
		}
		stale = max(excess-freed, 0)
		c.mu.Unlock()
		if freed > 0 {
			s.log.Warn("jetstream: messages that pulls counted as sent did not come; their slots are freed", "stream", c.stream, "messages", freed)
		}
		if late {
			s.log.Debug("jetstream: a pull had no status by its deadline; pulling anew", "stream", c.stream)
			c.abandon()
		}
	}
}

// claim gives a message that came the slot its pull held, or, if no pull
// holds one (it comes from a pull the consumer forgot), a free one; it
// reports false if there is none.
func (c *consumer) claim() bool {
	for {
		v := c.out.Load()
		if v == 0 {
			select {
			case c.slots <- struct{}{}:
				return true
			default:
				return false
			}
		}
		if c.out.CompareAndSwap(v, v-1) {
			if v == 1 {
				c.signal()
			}
			return true
		}
	}
}

// end ends pull id, which did not bring unfilled of its messages: it
// frees their slots.
func (c *consumer) end(id uint64, unfilled int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pulls[id]; !ok {
		return // forgotten: its slots are free already
	}
	delete(c.pulls, id)
	c.free(int64(unfilled))
	c.signal()
}

// free frees the slots of up to n messages that open pulls hold. c.mu
// is held, so that no pull is forgotten meanwhile.
func (c *consumer) free(n int64) {
	for {
		v := c.out.Load()
		d := min(n, v)
		if c.out.CompareAndSwap(v, v-d) {
			for range d {
				<-c.slots
			}
			return
		}
	}
}

// abandon forgets every open pull of c and frees the slots they hold.
func (c *consumer) abandon() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetAll()
}

// abandonFor abandons the open pulls of c, as a status that ends pull id
// without a count makes it, if id is one of them: a status of a pull
// forgotten already (409 Leadership Change comes for each open pull)
// tells nothing of the pulls sent since.
func (c *consumer) abandonFor(id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pulls[id]; ok {
		c.forgetAll()
	}
}

// forgetAll forgets every open pull of c and frees the slots they hold;
// c.mu is held.
func (c *consumer) forgetAll() {
	if len(c.pulls) > 0 {
		c.forgotten.Add(1)
	}
	clear(c.pulls)
	c.free(c.out.Load())
	c.signal()
}

// signal wakes the pull loop to look at the open pulls again.
func (c *consumer) signal() {
	select {
	case c.ended <- struct{}{}:
	default:
	}
}

// status handles a message of c's inbox that is not a message of the
// stream: a status message of the nats-server ending a pull, or an idle
// heartbeat.
func (s *Server) status(c *consumer, m *natsgo.Msg) {
	code := m.Header.Get(hdrStatus)
	if code == statusHeartbeat {
		return
	}
	desc := strings.ToLower(m.Header.Get(hdrDescription))
	id, err := strconv.ParseUint(strings.TrimPrefix(m.Subject, c.inbox), 10, 64)
	if err != nil {
		return
	}
	var fail error // what the pull loop hears of
	// A pull the nats-server refused at once brought nothing: each of
	// its slots is free.
	refused := true
	switch {
	case code == statusTimeout || code == statusNoMsgs:
		c.served.Store(true)
	case code == statusConflict && strings.Contains(desc, "batch completed"):
		c.served.Store(true)
	case code == statusConflict && strings.Contains(desc, "message size exceeds maxbytes"):
		fail = fmt.Errorf("%w: %s %s (MaxRequestMaxBytes %d)", errLimits, code, m.Header.Get(hdrDescription), c.cons.CachedInfo().Config.MaxRequestMaxBytes)
	case code == statusConflict && strings.Contains(desc, "consumer deleted"):
		fail, refused = natsjs.ErrConsumerDeleted, false
	case code == statusConflict && strings.Contains(desc, "leadership change"):
		refused = false
	case code == statusConflict && strings.Contains(desc, "server shutdown"):
		// Its JetStream stops: a pull sent at once would be lost.
		fail, refused = natsjs.ErrServerShutdown, false
	case code == statusNoResp:
		fail = natsgo.ErrNoResponders
	case code == statusConflict && strings.Contains(desc, "exceeded maxrequest"): // Batch, Expires, MaxBytes
		fail = fmt.Errorf("%w: %s %s", errLimits, code, m.Header.Get(hdrDescription))
	default: // 400 Bad Request, 409 Exceeded MaxWaiting, ...
		fail = fmt.Errorf("jetstream: pull refused: %s %s", code, m.Header.Get(hdrDescription))
	}
	if v := m.Header.Get(hdrPendingMsgs); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			c.end(id, n)
		} else {
			c.abandonFor(id)
		}
	} else if refused {
		c.mu.Lock()
		p, ok := c.pulls[id]
		c.mu.Unlock()
		if ok {
			c.end(id, p.n)
		}
	} else {
		c.abandonFor(id) // how many of its messages came is not known
	}
	if fail != nil {
		select {
		case c.failed <- fail:
		default:
		}
	}
}
