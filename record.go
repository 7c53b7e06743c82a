package gatehouse

import (
	"context"
	"sync"
)

// Mode says whether a stage blocks what it rejects (Enforce) or only records
// it and lets the request pass (Monitor). The zero value is Enforce: a stage
// that is not told otherwise fails closed.
type Mode int

const (
	Enforce Mode = iota
	Monitor
)

func (m Mode) String() string {
	if m == Monitor {
		return "monitor"
	}
	return "enforce"
}

// Record is the per-request audit record. The outermost middleware creates it
// (see NewRecordContext) and writes one log line from it when the request ends;
// inner stages add their decisions. All methods are safe for concurrent use and
// are no-ops on a nil *Record, so a stage used as a library without the gateway
// needs no special casing.
type Record struct {
	mu          sync.Mutex
	RequestID   string
	OperationID string
	Subject     string
	// Stage and Reason name the stage that blocked the request and why
	// (for the log only; never sent to the client).
	Stage  string
	Reason string
	// Monitored lists "stage: reason" for each violation let through in monitor mode.
	Monitored []string
	// Attrs holds extra key/value pairs for the log line (snake_case keys).
	Attrs map[string]string
}

// Block records that stage rejected the request. The first block wins.
func (r *Record) Block(stage, reason string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Stage == "" {
		r.Stage, r.Reason = stage, reason
	}
}

// Monitor records a violation that monitor mode let through.
func (r *Record) Monitor(stage, reason string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Monitored = append(r.Monitored, stage+": "+reason)
}

// Set adds a key/value pair to the log line.
func (r *Record) Set(key, value string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.Attrs == nil {
		r.Attrs = make(map[string]string)
	}
	r.Attrs[key] = value
}

// SetSubject records the authenticated subject.
func (r *Record) SetSubject(sub string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.Subject = sub
	r.mu.Unlock()
}

// RecordView is a copy of a Record's fields taken under its lock; it holds
// no lock itself, so it can be passed and compared by value.
type RecordView struct {
	RequestID, OperationID, Subject string
	Stage, Reason                   string
	Monitored                       []string
	Attrs                           map[string]string
}

// Snapshot returns a copy of the record's fields, safe to read without locks.
func (r *Record) Snapshot() RecordView {
	if r == nil {
		return RecordView{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c := RecordView{RequestID: r.RequestID, OperationID: r.OperationID, Subject: r.Subject,
		Stage: r.Stage, Reason: r.Reason}
	c.Monitored = append([]string(nil), r.Monitored...)
	if r.Attrs != nil {
		c.Attrs = make(map[string]string, len(r.Attrs))
		for k, v := range r.Attrs {
			c.Attrs[k] = v
		}
	}
	return c
}

type recordKey struct{}

// NewRecordContext returns ctx carrying rec.
func NewRecordContext(ctx context.Context, rec *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// RecordFrom returns the request's record, or nil (whose methods are no-ops).
func RecordFrom(ctx context.Context) *Record {
	rec, _ := ctx.Value(recordKey{}).(*Record)
	return rec
}

// Decide applies mode to a violation found by stage: in Enforce mode it
// records the block and returns true (the caller must reject the request);
// in Monitor mode it records the violation and returns false (let it pass).
func Decide(ctx context.Context, mode Mode, stage, reason string) (block bool) {
	rec := RecordFrom(ctx)
	if mode == Monitor {
		rec.Monitor(stage, reason)
		return false
	}
	rec.Block(stage, reason)
	return true
}
