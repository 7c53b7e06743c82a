package gateway

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the core request and reload metrics. They are created once
// per process (NewMetrics) and shared by every pipeline, so series survive
// a reload.
type Metrics struct {
	Requests     *prometheus.CounterVec
	Duration     *prometheus.HistogramVec
	Blocked      *prometheus.CounterVec
	ReloadOK     prometheus.Gauge
	ReloadOKTime prometheus.Gauge

	// The children of Requests and Duration the access log used, so a
	// request looks its series up in a small map instead of hashing label
	// values (and formatting the code) each time. Operations come from the
	// spec and codes are three digits, so the maps stay small.
	mu   sync.RWMutex
	reqs map[reqKey]prometheus.Counter
	durs map[string]prometheus.Observer
}

type reqKey struct {
	op   string
	code int
}

// request returns Requests' counter for op and code.
func (m *Metrics) request(op string, code int) prometheus.Counter {
	k := reqKey{op, code}
	m.mu.RLock()
	c, ok := m.reqs[k]
	m.mu.RUnlock()
	if ok {
		return c
	}
	c = m.Requests.WithLabelValues(op, strconv.Itoa(code))
	m.mu.Lock()
	if m.reqs == nil {
		m.reqs = map[reqKey]prometheus.Counter{}
	}
	m.reqs[k] = c
	m.mu.Unlock()
	return c
}

// duration returns Duration's observer for op.
func (m *Metrics) duration(op string) prometheus.Observer {
	m.mu.RLock()
	o, ok := m.durs[op]
	m.mu.RUnlock()
	if ok {
		return o
	}
	o = m.Duration.WithLabelValues(op)
	m.mu.Lock()
	if m.durs == nil {
		m.durs = map[string]prometheus.Observer{}
	}
	m.durs[op] = o
	m.mu.Unlock()
	return o
}

// NewMetrics registers the core metrics on reg, reusing collectors that are
// already registered under the same names.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_http_requests_total",
			Help: "Requests served by the gateway, by operationId (\"unmatched\" when no route matched) and status code.",
		}, []string{"operation", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "Time from request arrival to the end of the response, by operationId.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"operation"}),
		Blocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_blocked_requests_total",
			Help: "Requests rejected by the gateway, by the stage that decided and its reason.",
		}, []string{"stage", "reason"}),
		ReloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt succeeded (1) or failed (0).",
		}),
		ReloadOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gatehouse_config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load.",
		}),
	}
	var err error
	if m.Requests, err = reuse(reg, m.Requests); err != nil {
		return nil, err
	}
	if m.Duration, err = reuse(reg, m.Duration); err != nil {
		return nil, err
	}
	if m.Blocked, err = reuse(reg, m.Blocked); err != nil {
		return nil, err
	}
	if m.ReloadOK, err = reuse(reg, m.ReloadOK); err != nil {
		return nil, err
	}
	if m.ReloadOKTime, err = reuse(reg, m.ReloadOKTime); err != nil {
		return nil, err
	}
	return m, nil
}

// reuse registers c or returns the collector already registered in its place.
func reuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			if old, ok := are.ExistingCollector.(C); ok {
				return old, nil
			}
		}
		return c, fmt.Errorf("register metrics: %w", err)
	}
	return c, nil
}
