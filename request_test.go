package gatehouse

import (
	"context"
	"errors"
	"testing"
)

func TestRequestContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), struct{ k int }{1}, "outer"))
	ctx, rec := NewRequestContext(parent, "req-1")
	if got := RecordFrom(ctx); got != rec || got.Snapshot().RequestID != "req-1" {
		t.Fatalf("RecordFrom = %p %+v, want %p with id req-1", got, got.Snapshot(), rec)
	}
	if RouteFrom(ctx) != nil {
		t.Fatal("RouteFrom before SetRoute is not nil")
	}
	if got := ctx.Value(struct{ k int }{1}); got != "outer" {
		t.Fatalf("parent value = %v, want outer", got)
	}
	derived := context.WithValue(ctx, struct{ k int }{2}, "inner") // taken before SetRoute
	rt := &Route{OperationID: "getItem", RawPath: "/items/1"}
	if !SetRoute(derived, rt) {
		t.Fatal("SetRoute on a request context = false")
	}
	for name, c := range map[string]context.Context{"request": ctx, "derived": derived} {
		if got := RouteFrom(c); got != rt {
			t.Errorf("RouteFrom(%s) = %v, want the set route", name, got)
		}
	}
	// A second route never replaces the first through the slot: the caller
	// falls back to WithRoute, whose context shadows it.
	if SetRoute(ctx, &Route{OperationID: "other"}) {
		t.Fatal("second SetRoute = true, want false")
	}
	if got := RouteFrom(ctx); got != rt {
		t.Fatalf("RouteFrom after a refused SetRoute = %v", got)
	}
	shadow := &Route{OperationID: "shadow"}
	sctx := WithRoute(ctx, shadow)
	if got := RouteFrom(sctx); got != shadow {
		t.Fatalf("RouteFrom(WithRoute above the slot) = %v, want the WithRoute one", got)
	}
	cancel()
	if !errors.Is(ctx.Err(), context.Canceled) || !errors.Is(derived.Err(), context.Canceled) {
		t.Fatalf("cancel of the parent: ctx.Err() = %v, derived.Err() = %v", ctx.Err(), derived.Err())
	}
}

// A WithRoute context below the request context is shadowed by nothing
// until SetRoute, and SetRoute refuses to hide an existing route.
func TestSetRouteRefusesWithoutSlotOrOverExisting(t *testing.T) {
	if SetRoute(context.Background(), &Route{}) {
		t.Fatal("SetRoute without a request context = true")
	}
	if SetRoute(NewRecordContext(context.Background(), &Record{}), &Route{}) {
		t.Fatal("SetRoute on a NewRecordContext = true")
	}
	ctx, _ := NewRequestContext(context.Background(), "x")
	existing := &Route{OperationID: "existing"}
	ctx = WithRoute(ctx, existing)
	if SetRoute(ctx, &Route{OperationID: "new"}) {
		t.Fatal("SetRoute over a WithRoute route = true")
	}
	if got := RouteFrom(ctx); got != existing {
		t.Fatalf("RouteFrom = %v, want the existing route", got)
	}
	if SetRoute(ctx, nil) {
		t.Fatal("SetRoute(nil) = true")
	}
}

func TestRequestContextAllocs(t *testing.T) {
	parent := context.Background()
	rt := &Route{}
	n := testing.AllocsPerRun(100, func() {
		ctx, rec := NewRequestContext(parent, "id")
		SetRoute(ctx, rt)
		if RouteFrom(ctx) != rt || RecordFrom(ctx) != rec {
			t.Fatal("lookup failed")
		}
	})
	if n != 1 {
		t.Fatalf("NewRequestContext+SetRoute: %v allocs, want 1", n)
	}
}
