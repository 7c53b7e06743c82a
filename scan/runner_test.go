package scan_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// recorder is a check that records when it started and finished, and how
// many checks were running at the same time.
type recorder struct {
	id    string
	phase scan.Phase
	log   *runLog
	err   error
}

type runLog struct {
	mu       sync.Mutex
	events   []string
	running  int
	overlaps map[string]int // check ID → most checks running while it ran
}

func (r recorder) Meta() scan.Meta { return scan.Meta{ID: r.id, Title: r.id, Phase: r.phase} }

func (r recorder) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	l := r.log
	l.mu.Lock()
	l.running++
	l.events = append(l.events, "start "+r.id)
	l.overlaps[r.id] = max(l.overlaps[r.id], l.running)
	l.mu.Unlock()
	// One request, so concurrent parallel checks really overlap in time.
	_, _ = t.Do(ctx, http.MethodGet, "/", nil, nil)
	l.mu.Lock()
	l.overlaps[r.id] = max(l.overlaps[r.id], l.running)
	l.running--
	l.events = append(l.events, "end "+r.id)
	l.mu.Unlock()
	return r.err
}

func TestRunOrdersChecksByPhase(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	spec, err := openapi.LoadBytes([]byte("openapi: 3.1.0\ninfo: { title: t, version: \"1\" }\npaths: {}\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := &runLog{overlaps: map[string]int{}}
	// Given in an order that is wrong on purpose: bursts first, by ID the
	// login burst (GH2030) before the enumeration probe (GH2031).
	cs := []scan.Check{
		recorder{id: "GH2032", phase: scan.PhaseBurst, log: l},
		recorder{id: "GH2030", phase: scan.PhaseBurst, log: l},
		recorder{id: "GH2031", phase: scan.PhaseProbe, log: l},
		recorder{id: "GH2005", phase: scan.PhaseState, log: l},
		recorder{id: "GH2099", phase: scan.PhaseProbe, log: l, err: scan.Skip("--rate %d is too low", 2)},
		recorder{id: "GH2060", log: l},
		recorder{id: "GH2001", log: l},
		recorder{id: "GH2010", log: l},
	}
	var want []string
	for _, i := range scan.Order(cs) {
		want = append(want, cs[i].Meta().ID)
	}
	if w := []string{"GH2001", "GH2010", "GH2060", "GH2031", "GH2099", "GH2005", "GH2030", "GH2032"}; !slices.Equal(want, w) {
		t.Fatalf("Order = %v, want %v", want, w)
	}
	tg, err := scan.NewTarget(spec, srv.URL, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: cs, Parallel: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Every check of a later phase starts after every earlier check ended,
	// and runs alone.
	ended := map[string]bool{}
	var started []string
	for _, e := range l.events {
		id := e[len(e)-6:]
		if e[:3] == "end" {
			ended[id] = true
			continue
		}
		started = append(started, id)
		var m scan.Meta
		for _, c := range cs {
			if c.Meta().ID == id {
				m = c.Meta()
			}
		}
		if m.Phase == scan.PhaseParallel {
			continue
		}
		for _, c := range cs {
			if o := c.Meta(); o.Phase < m.Phase && !ended[o.ID] {
				t.Errorf("%s (phase %v) started before %s (phase %v) ended", id, m.Phase, o.ID, o.Phase)
			}
		}
		if l.overlaps[id] != 1 {
			t.Errorf("%s (phase %v) ran beside %d other checks", id, m.Phase, l.overlaps[id]-1)
		}
	}
	if i, j := slices.Index(started, "GH2031"), slices.Index(started, "GH2030"); i < 0 || j < 0 || i > j {
		t.Errorf("start order %v: the enumeration probe must run before the login burst", started)
	}
	for _, r := range res.Checks {
		switch r.Meta.ID {
		case "GH2099":
			if r.Skipped != "--rate 2 is too low" || r.Error != "" {
				t.Errorf("skipped check recorded as skipped=%q error=%q", r.Skipped, r.Error)
			}
		default:
			if r.Skipped != "" || r.Error != "" {
				t.Errorf("%s: skipped=%q error=%q", r.Meta.ID, r.Skipped, r.Error)
			}
		}
	}
}
