package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"
)

// slogLine is what the access logger writes through slog's JSON handler.
func slogLine(t testing.TB, at time.Time, f *accessFields) []byte {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, nil).WithAttrs([]slog.Attr{slog.String("component", "access")})
	rec := slog.NewRecord(at, slog.LevelInfo, "request", 0)
	rec.AddAttrs(f.slogAttrs(nil)...)
	if err := h.Handle(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var accessCases = map[string]accessFields{
	"plain": {requestID: "0123abcd", method: "GET", path: "/items/12345", operationID: "getItem",
		status: 200, latencyMS: 1.234, bytes: 393, clientIP: netip.MustParseAddr("127.0.0.1")},
	"blocked monitored attrs aborted": {requestID: "r", method: "POST", path: "/items", status: 403,
		stage: "authz", reason: "rule: owner", subject: "alice", latencyMS: 0.001, bytes: 0,
		clientIP: netip.MustParseAddr("2001:db8::1"), monitored: []string{"waf: sqli", "request: body"},
		aborted: true, attrs: map[string]string{"z": "1", "a": "2", "stripped_identity_headers": "3"}},
	"no client ip":    {method: "GET", path: "/", status: 0},
	"zone":            {clientIP: netip.MustParseAddr("fe80::1%eth0")},
	"empty monitored": {monitored: []string{}},
	// Attacker-chosen text reaches path, reason, subject, monitored and attrs.
	"escapes": {requestID: "\"\\", method: "G\x00T", path: "/a\"b\\c\n\r\t\x01\x1f\x7f<>&'\u2028\u2029é\xff",
		reason: "\b\f", subject: "\u00e9\U0001F600\xed\xa0\x80", monitored: []string{"\b\f\x00\"<>&\u2028\xfe"},
		attrs: map[string]string{"k\"\n": "v\b\f\xff"}},
	"latency large":    {latencyMS: 1e21},
	"latency small":    {latencyMS: 1e-7},
	"latency negative": {latencyMS: -3.5},
	"latency integral": {latencyMS: 12},
}

// The hot path's encoder writes exactly slog's bytes: log readers and
// tests that parse the access log see no difference.
func TestAccessJSONMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 30, 45, 123456789, time.FixedZone("X", 3600))
	for name, f := range accessCases {
		t.Run(name, func(t *testing.T) {
			want := slogLine(t, at, &f)
			got := appendAccessJSON(nil, at, &f)
			if !bytes.Equal(got, want) {
				t.Fatalf("appendAccessJSON =\n%s\nslog =\n%s", got, want)
			}
		})
	}
	// UTC and a whole second (RFC 3339 drops the fraction then)
	f := accessCases["plain"]
	for _, at := range []time.Time{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(999, 1, 1, 0, 0, 0, 100, time.Local)} {
		if got, want := appendAccessJSON(nil, at, &f), slogLine(t, at, &f); !bytes.Equal(got, want) {
			t.Fatalf("at %v: appendAccessJSON =\n%s\nslog =\n%s", at, got, want)
		}
	}
}

func FuzzAccessJSON(f *testing.F) {
	for _, c := range accessCases {
		f.Add(c.path, c.reason, c.subject, c.requestID, c.latencyMS, len(c.monitored) > 0)
	}
	at := time.Date(2026, 12, 7, 12, 30, 45, 123000000, time.UTC)
	f.Fuzz(func(t *testing.T, path, reason, subject, id string, lat float64, mon bool) {
		a := accessFields{requestID: id, method: "GET", path: path, reason: reason, subject: subject,
			latencyMS: lat, clientIP: netip.MustParseAddr("10.0.0.1"), attrs: map[string]string{reason: subject}}
		if mon {
			a.monitored = []string{path, reason}
		}
		want := slogLine(t, at, &a)
		if bytes.Contains(want, []byte("!ERROR")) {
			return // NaN and infinities: slog writes an error, never a latency
		}
		if got := appendAccessJSON(nil, at, &a); !bytes.Equal(got, want) {
			t.Fatalf("appendAccessJSON =\n%q\nslog =\n%q", got, want)
		}
	})
}

func TestWriteAccessJSONAllocs(t *testing.T) {
	f := accessCases["plain"]
	at := time.Now()
	writeAccessJSON(io.Discard, at, &f) // fill the pool
	if n := testing.AllocsPerRun(200, func() { writeAccessJSON(io.Discard, at, &f) }); n != 0 {
		t.Errorf("writeAccessJSON: %v allocs per line, want 0", n)
	}
}

// BenchmarkAccessLine compares the access line through slog's JSON handler
// with the hot path's encoder.
func BenchmarkAccessLine(b *testing.B) {
	f := accessCases["plain"]
	b.Run("slog", func(b *testing.B) {
		log := slog.New(slog.NewJSONHandler(io.Discard, nil)).With("component", "access")
		b.ReportAllocs()
		for b.Loop() {
			log.LogAttrs(context.Background(), slog.LevelInfo, "request", f.slogAttrs(nil)...)
		}
	})
	b.Run("encoder", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			writeAccessJSON(io.Discard, time.Now(), &f)
		}
	})
}
