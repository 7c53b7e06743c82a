package revocation

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	clk := func() time.Time { return now }
	m := NewMemory(3, clk)
	iat := now.Add(-time.Minute)
	if err := m.RevokeToken(ctx, "j1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeSubject(ctx, "bob", now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		jti, sub string
		iat      time.Time
		want     bool
	}{
		{"revoked jti", "j1", "alice", iat, true},
		{"other jti", "j2", "alice", iat, false},
		{"subject, issued before", "j3", "bob", iat, true},
		{"subject, issued after", "j3", "bob", now.Add(time.Second), false},
		{"subject, no iat", "j3", "bob", time.Time{}, true},
		{"empty", "", "", iat, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Check(ctx, tc.jti, tc.sub, tc.iat)
			if err != nil || got != tc.want {
				t.Fatalf("Check(%q, %q) = %v, %v; want %v", tc.jti, tc.sub, got, err, tc.want)
			}
		})
	}
	// Entries expire with the token.
	now = now.Add(2 * time.Minute)
	if got, _ := m.Check(ctx, "j1", "", iat); got {
		t.Fatal("revocation outlived the token")
	}
	// Bounded: a full store drops expired entries, then refuses.
	if err := m.RevokeToken(ctx, "j4", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.RevokeToken(ctx, "j5", now.Add(time.Minute)); err != nil {
		t.Fatalf("RevokeToken with an expired entry to drop = %v", err)
	}
	if err := m.RevokeToken(ctx, "j6", now.Add(time.Minute)); !errors.Is(err, ErrFull) {
		t.Fatalf("RevokeToken on a full store = %v, want ErrFull", err)
	}
	if m.Len() != 3 {
		t.Fatalf("Len = %d, want 3", m.Len())
	}
	// Already-expired tokens need no entry.
	if err := m.RevokeToken(ctx, "j7", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestMemoryBinder: the first binding of a key stays (a second Bind to
// another fingerprint returns the first and changes nothing), the same
// fingerprint extends it, it expires, and it counts towards max.
func TestMemoryBinder(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	m := NewMemory(2, func() time.Time { return now })
	if got, err := m.Bind(ctx, "k", "victim", now.Add(time.Minute)); err != nil || got != "victim" {
		t.Fatalf("Bind = %q, %v", got, err)
	}
	if got, err := m.Bind(ctx, "k", "attacker", now.Add(time.Hour)); err != nil || got != "victim" {
		t.Fatalf("second Bind = %q, %v; want the first binding kept", got, err)
	}
	if _, err := m.Bind(ctx, "k", "victim", now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	now = now.Add(90 * time.Second) // past the first until, before the extension
	if fp, ok, err := m.Binding(ctx, "k"); err != nil || !ok || fp != "victim" {
		t.Fatalf("Binding = %q, %v, %v; want victim (extended)", fp, ok, err)
	}
	if err := m.RevokeToken(ctx, "j", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Bind(ctx, "k2", "x", now.Add(time.Hour)); !errors.Is(err, ErrFull) {
		t.Fatalf("Bind over max = %v, want ErrFull", err)
	}
	now = now.Add(time.Hour)
	if _, ok, _ := m.Binding(ctx, "k"); ok {
		t.Fatal("binding did not expire")
	}
	if got, err := m.Bind(ctx, "k", "attacker", now.Add(time.Minute)); err != nil || got != "attacker" {
		t.Fatalf("Bind after expiry = %q, %v", got, err)
	}
}
