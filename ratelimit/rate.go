package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ErrBadRate is wrapped by every ParseRate and NewPolicy error.
var ErrBadRate = errors.New("ratelimit: invalid rate")

// maxCount bounds the request count of a rate so that the emission interval
// stays at least one microsecond (the Redis store's resolution).
const maxCount = 1_000_000

// maxPer bounds a rate's period; longer windows are better served by quotas.
const maxPer = 366 * 24 * time.Hour

// Rate is a request count per period, e.g. 5 per minute.
type Rate struct {
	Count int
	Per   time.Duration
}

// String renders r in the form ParseRate reads.
func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.Count, r.Per) }

// Interval is the GCRA emission interval: the steady-state time between two
// requests (Per / Count).
func (r Rate) Interval() time.Duration {
	if r.Count <= 0 {
		return 0
	}
	return r.Per / time.Duration(r.Count)
}

// ParseRate parses "<count>/<period>" where period is a unit ("s", "sec",
// "second", "m", "min", "minute", "h", "hour", "d", "day") or a Go duration
// with an optional leading number ("10s", "1h", "1.5m", "2d").
// Examples: "5/min", "100/s", "10/1h". Count must be 1..1e6 and the period
// 1µs..366d, with at least 1µs between requests.
func ParseRate(s string) (Rate, error) {
	cnt, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("%w %q: want <count>/<period>, e.g. 100/s", ErrBadRate, s)
	}
	n, err := strconv.Atoi(strings.TrimSpace(cnt))
	if err != nil || n < 1 || n > maxCount {
		return Rate{}, fmt.Errorf("%w %q: count must be an integer 1..%d", ErrBadRate, s, maxCount)
	}
	d, err := parsePeriod(strings.TrimSpace(per))
	if err != nil {
		return Rate{}, fmt.Errorf("%w %q: %v", ErrBadRate, s, err)
	}
	r := Rate{Count: n, Per: d}
	if err := r.check(); err != nil {
		return Rate{}, fmt.Errorf("%w %q: %v", ErrBadRate, s, err)
	}
	return r, nil
}

func (r Rate) check() error {
	if r.Count < 1 || r.Count > maxCount {
		return fmt.Errorf("count must be 1..%d", maxCount)
	}
	if r.Per < time.Microsecond || r.Per > maxPer {
		return errors.New("period must be between 1µs and 366d")
	}
	if r.Interval() < time.Microsecond {
		return errors.New("more than one request per microsecond")
	}
	return nil
}

var units = map[string]time.Duration{
	"ms": time.Millisecond,
	"s":  time.Second, "sec": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
}

func parsePeriod(p string) (time.Duration, error) {
	if p == "" {
		return 0, errors.New("empty period")
	}
	if d, ok := units[strings.ToLower(p)]; ok {
		return d, nil
	}
	if d, err := time.ParseDuration(p); err == nil {
		if d <= 0 {
			return 0, errors.New("period must be positive")
		}
		return d, nil
	}
	// "<number><unit>" with a unit Go durations lack ("2d", "1.5min").
	i := strings.IndexFunc(p, func(c rune) bool { return (c < '0' || c > '9') && c != '.' })
	if i <= 0 {
		return 0, fmt.Errorf("unknown period %q", p)
	}
	num, unit := p[:i], strings.ToLower(p[i:])
	u, ok := units[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("bad period number %q", num)
	}
	v := f * float64(u)
	if v > float64(maxPer) {
		return 0, errors.New("period too long")
	}
	return time.Duration(v), nil
}

// Policy is one GCRA limit: Rate sets the sustained rate and Burst how many
// requests may arrive at once after a quiet period. The zero Burst means
// Burst = Rate.Count ("100/min" allows 100 requests in any minute-long
// stretch, as a fixed quota would, but refills smoothly).
//
// A Policy is immutable after NewPolicy and safe for concurrent use.
type Policy struct {
	// Name identifies the limit in headers, logs, metrics and store keys.
	Name  string
	Rate  Rate
	Burst int

	interval int64 // ns
	tau      int64 // ns: interval * burst
	// def identifies the definition in the memory store (name, rate,
	// burst; the Middleware adds the key and operations): counters are kept
	// across reloads while it is unchanged, and a changed definition starts
	// fresh. Empty: Name.
	def string
}

// storeName is the namespace of p's counters in a MemoryStore.
func (p *Policy) storeName() string {
	if p.def != "" {
		return p.def
	}
	return p.Name
}

// NewPolicy validates and returns a Policy. Names are limited to
// [A-Za-z0-9_.-] so they can appear unescaped in headers and metrics.
func NewPolicy(name string, rate Rate, burst int) (*Policy, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if err := rate.check(); err != nil {
		return nil, fmt.Errorf("%w: limit %s: %v", ErrBadRate, name, err)
	}
	if burst == 0 {
		burst = rate.Count
	}
	if burst < 1 || burst > maxCount {
		return nil, fmt.Errorf("%w: limit %s: burst must be 1..%d", ErrBadRate, name, maxCount)
	}
	iv := int64(rate.Interval())
	return &Policy{Name: name, Rate: rate, Burst: burst, interval: iv, tau: iv * int64(burst),
		def: name + "\x00" + strconv.FormatInt(iv, 10) + "\x00" + strconv.Itoa(burst)}, nil
}

// CheckName reports whether name is a valid limit name: 1-64 characters of
// [A-Za-z0-9_.-], so it appears unescaped in headers, logs and metrics.
func CheckName(name string) error {
	if name == "" || len(name) > 64 || strings.IndexFunc(name, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-')
	}) >= 0 {
		return fmt.Errorf("ratelimit: limit name %q must be 1-64 characters of [A-Za-z0-9_.-]", name)
	}
	return nil
}

// MustPolicy is NewPolicy for static arguments; it panics on error.
func MustPolicy(name, rate string, burst int) *Policy {
	r, err := ParseRate(rate)
	if err != nil {
		panic(err)
	}
	p, err := NewPolicy(name, r, burst)
	if err != nil {
		panic(err)
	}
	return p
}

// IntervalNanos returns the emission interval in nanoseconds.
func (p *Policy) IntervalNanos() int64 { return p.interval }

// ToleranceNanos returns interval*burst in nanoseconds (the GCRA delay
// variation tolerance plus one interval).
func (p *Policy) ToleranceNanos() int64 { return p.tau }
