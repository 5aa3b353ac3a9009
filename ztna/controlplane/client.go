package controlplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Client. A nil *Options means the defaults; New never
// modifies the options it is given.
type Options struct {
	// HTTPClient makes the requests. Default: a client with no overall
	// timeout (long polls set their own deadlines).
	HTTPClient *http.Client
	// StateDir holds the gateway's credential (credential.json, mode 0600)
	// and, unless SpoolDir is set, the event spool (StateDir/spool). Empty:
	// the credential lives in memory only and events are spooled under a
	// fresh temporary directory, which does not survive a restart.
	StateDir string
	// SpoolDir overrides where events are spooled.
	SpoolDir string
	// Logger receives the sender's warnings. Default: discard.
	Logger *slog.Logger
	// RetryMin and RetryMax bound the sender's back-off while the console
	// is unreachable. Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
}

// watchRetryMax bounds Watch's back-off: a failed long poll costs one
// small request, and a gateway must see a revocation soon after its
// console is back.
const watchRetryMax = time.Second

// Client is the gateway side of the control plane.
type Client struct {
	base    *url.URL
	hc      *http.Client
	log     *slog.Logger
	spool   *spool
	state   string
	tmpDir  string
	rmin    time.Duration
	rmax    time.Duration
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.Once

	mu     sync.Mutex // guards cred, closed
	cred   Credential
	closed bool

	flushMu sync.Mutex // serialises spool delivery
}

// New returns a client of the console at consoleURL (e.g.
// "http://127.0.0.1:8080") and starts its event sender. A credential found
// in Options.StateDir is loaded, so a restarted gateway need not register
// again.
func New(consoleURL string, opts *Options) (*Client, error) {
	u, err := url.Parse(consoleURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("controlplane: console url %q: want http(s)://host[:port]", consoleURL)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	c := &Client{
		base: u, hc: o.HTTPClient, log: o.Logger, state: o.StateDir,
		rmin: o.RetryMin, rmax: o.RetryMax,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.rmin <= 0 {
		c.rmin = 100 * time.Millisecond
	}
	if c.rmax <= 0 {
		c.rmax = 5 * time.Second
	}
	dir := o.SpoolDir
	if dir == "" && o.StateDir != "" {
		dir = filepath.Join(o.StateDir, "spool")
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "gonaut-spool-"); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSpool, err)
		}
		c.tmpDir = dir
	}
	if c.spool, err = openSpool(dir); err != nil {
		return nil, err
	}
	if c.state != "" {
		if data, err := os.ReadFile(filepath.Join(c.state, "credential.json")); err == nil {
			if err := json.Unmarshal(data, &c.cred); err != nil {
				return nil, fmt.Errorf("controlplane: reading credential: %v", err)
			}
		}
	}
	go c.sender()
	return c, nil
}

// Credential returns the gateway's credential; its GatewayID is empty
// before registration.
func (c *Client) Credential() Credential {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cred
}

// Register trades a one-time token for the gateway's credential and keeps
// it (in StateDir when set).
func (c *Client) Register(ctx context.Context, token, name string) (Credential, error) {
	var cred Credential
	if err := c.do(ctx, http.MethodPost, "register", nil, RegisterRequest{Token: token, Name: name}, &cred, false); err != nil {
		return Credential{}, err
	}
	if c.state != "" {
		if err := os.MkdirAll(c.state, 0o700); err != nil {
			return cred, fmt.Errorf("controlplane: saving credential: %v", err)
		}
		data, _ := json.Marshal(cred)
		p := filepath.Join(c.state, "credential.json")
		if err := os.WriteFile(p+".tmp", data, 0o600); err != nil {
			return cred, fmt.Errorf("controlplane: saving credential: %v", err)
		}
		if err := os.Rename(p+".tmp", p); err != nil {
			return cred, fmt.Errorf("controlplane: saving credential: %v", err)
		}
	}
	c.mu.Lock()
	c.cred = cred
	c.mu.Unlock()
	c.nudge()
	return cred, nil
}

// Bundle returns the console's bundle if its version is greater than
// after, waiting up to wait for one; it returns (nil, nil) when none came.
func (c *Client) Bundle(ctx context.Context, after int64, wait time.Duration) (*Bundle, error) {
	wait = min(max(wait, 0), MaxWait)
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "wait": {wait.String()}}
	var b Bundle
	ok := false
	err := c.doStatus(ctx, http.MethodGet, "bundle", q, nil, &b, true, &ok)
	if err != nil || !ok {
		return nil, err
	}
	return &b, nil
}

// Watch long-polls the console and calls apply with every bundle newer
// than the last one it saw, starting after version after; it returns when
// ctx is done (with ctx's error) or the console refuses the credential. It
// retries other errors with back-off, at most RetryMax and never more than
// watchRetryMax, so that a console back from an outage is followed within
// a second. apply runs on Watch's goroutine.
func (c *Client) Watch(ctx context.Context, after int64, apply func(*Bundle)) error {
	rmax := min(c.rmax, watchRetryMax)
	delay := min(c.rmin, rmax)
	for {
		b, err := c.Bundle(ctx, after, 25*time.Second)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, ErrUnauthorized), errors.Is(err, ErrNotRegistered):
			return err
		case err != nil:
			c.log.Warn("controlplane: bundle pull failed", "err", err, "retry", delay)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(delay):
			}
			delay = min(delay*2, rmax)
			continue
		}
		delay = min(c.rmin, rmax)
		if b != nil && b.Version > after {
			after = b.Version
			apply(b)
		}
	}
}

// PushStatus sends a heartbeat.
func (c *Client) PushStatus(ctx context.Context, s Status) error {
	return c.do(ctx, http.MethodPost, "status", nil, s, nil, true)
}

// NewEventID returns a random 128-bit event id in hex.
func NewEventID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Emit appends events to the spool and returns once they are on disk; the
// sender delivers them in the background. Events without an ID get one,
// without a Time get now.
func (c *Client) Emit(events ...Event) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	for len(events) > 0 {
		n := min(len(events), MaxBatch)
		batch := append([]Event(nil), events[:n]...)
		for i := range batch {
			if batch[i].ID == "" {
				batch[i].ID = NewEventID()
			}
			if batch[i].Time.IsZero() {
				batch[i].Time = time.Now().UTC()
			}
		}
		if err := c.spool.append(batch); err != nil {
			return err
		}
		events = events[n:]
	}
	c.nudge()
	return nil
}

// Pending counts the events spooled and not yet acknowledged.
func (c *Client) Pending() (int, error) { return c.spool.pending() }

// Flush delivers every spooled event now, returning the first error.
func (c *Client) Flush(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	files, err := c.spool.files()
	if err != nil {
		return err
	}
	for _, f := range files {
		evs, err := c.spool.read(f)
		if err != nil {
			c.log.Warn("controlplane: skipping damaged spool file", "err", err)
			continue
		}
		var ack EventAck
		if err := c.do(ctx, http.MethodPost, "events", nil, EventBatch{Events: evs}, &ack, true); err != nil {
			return err
		}
		// A refused event would be refused again: it is logged and its
		// spool file goes with the rest of the batch.
		for _, rj := range ack.Rejected {
			c.log.Warn("controlplane: console refused an event", "id", rj.ID, "index", rj.Index, "reason", rj.Reason)
		}
		if err := c.spool.remove(f); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) nudge() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Client) sender() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	delay := c.rmin
	for {
		err := c.Flush(ctx)
		wait := time.Duration(0)
		if err != nil && ctx.Err() == nil {
			if !errors.Is(err, ErrNotRegistered) {
				c.log.Warn("controlplane: event delivery failed", "err", err, "retry", delay)
			}
			wait = delay
			delay = min(delay*2, c.rmax)
		} else {
			delay = c.rmin
		}
		var timer <-chan time.Time
		if wait > 0 {
			timer = time.After(wait)
		}
		select {
		case <-c.stop:
			return
		case <-c.kick:
			if timer != nil {
				select {
				case <-c.stop:
					return
				case <-timer:
				}
			}
		case <-timer:
		}
	}
}

// Close stops the sender, waiting for it. Spooled events stay on disk for
// the next Client on the same spool.
func (c *Client) Close() error {
	c.closeMu.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.stop)
		<-c.done
		if c.tmpDir != "" {
			os.RemoveAll(c.tmpDir)
		}
	})
	return nil
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any, auth bool) error {
	var ok bool
	return c.doStatus(ctx, method, path, q, in, out, auth, &ok)
}

// doStatus makes one call; ok reports a 200 with a body (false on 204).
func (c *Client) doStatus(ctx context.Context, method, path string, q url.Values, in, out any, auth bool, ok *bool) error {
	u := c.base.JoinPath("cp", "v1", path)
	if q != nil {
		u.RawQuery = q.Encode()
	}
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("controlplane: %v", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("controlplane: %v", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		cred := c.Credential()
		if cred.GatewayID == "" {
			return ErrNotRegistered
		}
		req.Header.Set("Authorization", cred.Bearer())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("controlplane: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("controlplane: %s %s: %w", method, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return nil
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		*ok = true
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("controlplane: %s %s: bad answer: %v", method, path, err)
			}
		}
		return nil
	}
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(data, e) != nil || e.Code == "" {
		e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
		e.Message = strings.TrimSpace(string(data))
	}
	e.Status = resp.StatusCode
	return e
}
