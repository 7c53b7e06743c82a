package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/proxy"
	"github.com/gatehouse/gatehouse/oasvalidate"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/problem"
)

// maxLoggedPath bounds the path written to the access log.
const maxLoggedPath = 256

// accessLog is the outermost stage: it assigns the request ID, creates the
// audit record and the shared body cache, removes client-sent identity
// headers, enforces the body limit, and writes one log line and the request
// metrics when the request ends. No header value is ever logged.
func accessLog(log *slog.Logger, jsonOut io.Writer, m *Metrics, trusted httpx.TrustedProxies, cfg *config.Config, now func() time.Time) gatehouse.Middleware {
	maxBody := int64(cfg.Limits.MaxBody)
	expose := cfg.Errors.ExposeDetails
	alog := log.With("component", "access")
	identity := httpx.IdentityNames(ownedHeaders(cfg)...)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := now()
			id := r.Header.Get("X-Request-Id")
			if !httpx.SafeRequestID(id) {
				id = httpx.NewRequestID()
			}
			// Forwarded upstream (one ID in both logs) and answered. The two
			// headers share one value slice (capacity 1: an Add on either
			// copies, never writes into the other); a client's own single
			// canonical value is kept as it is.
			idv := r.Header["X-Request-Id"]
			if len(idv) != 1 || idv[0] != id {
				idv = []string{id}
				r.Header["X-Request-Id"] = idv
			}
			w.Header()["X-Request-Id"] = idv
			ctx, rec := gatehouse.NewRequestContext(r.Context(), id)
			ctx = httpx.WithBodyCache(ctx)
			if expose {
				ctx = problem.WithExposeDetails(ctx)
			}
			r = r.WithContext(ctx)
			if n := httpx.StripIdentity(r.Header, identity); n > 0 {
				rec.Set("stripped_identity_headers", strconv.Itoa(n))
			}
			sw := statusWriters.Get().(*httpx.StatusWriter)
			sw.ResponseWriter = w
			defer func() {
				v := recover()
				writeAccess(alog, jsonOut, m, trusted, r, rec, sw, now().Sub(start), v != nil)
				if v != nil {
					panic(v)
				}
				// Reused only after a normal return, cleared first.
				*sw = httpx.StatusWriter{}
				statusWriters.Put(sw)
			}()
			if r.ContentLength > maxBody {
				rec.Block("limits", "body_too_large")
				problem.Write(sw, r, http.StatusRequestEntityTooLarge)
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(sw, r.Body, maxBody)
			}
			next.ServeHTTP(sw, r)
		})
	}
}

// statusWriters recycles accessLog's per-request writers.
var statusWriters = sync.Pool{New: func() any { return new(httpx.StatusWriter) }}

// writeAccess writes the request's metrics and its access line: through
// log or, when jsonOut is set (the Server's own JSON log output), with the
// allocation-free encoder of the same bytes (writeAccessJSON).
func writeAccess(log *slog.Logger, jsonOut io.Writer, m *Metrics, trusted httpx.TrustedProxies, r *http.Request,
	rec *gatehouse.Record, sw *httpx.StatusWriter, d time.Duration, aborted bool) {
	s := rec.Snapshot()
	status := sw.Status
	if status == 0 && !aborted {
		status = http.StatusOK
	}
	op := s.OperationID
	if op == "" {
		op = "unmatched"
	}
	m.request(op, status).Inc()
	m.duration(op).Observe(d.Seconds())
	if s.Stage != "" {
		m.Blocked.WithLabelValues(s.Stage, reasonLabel(s.Reason)).Inc()
	}
	path := r.URL.EscapedPath()
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath] + "..."
	}
	f := accessFields{
		requestID: s.RequestID, method: r.Method, path: strings.ToValidUTF8(path, "?"),
		operationID: s.OperationID, status: status, stage: s.Stage, reason: s.Reason,
		subject: s.Subject, latencyMS: float64(d.Microseconds()) / 1000, bytes: sw.Bytes,
		clientIP: trusted.ClientIP(r), monitored: s.Monitored, aborted: aborted, attrs: s.Attrs,
	}
	if jsonOut != nil {
		writeAccessJSON(jsonOut, time.Now(), &f)
		return
	}
	var buf [14]slog.Attr
	log.LogAttrs(r.Context(), slog.LevelInfo, "request", f.slogAttrs(buf[:])...)
}

// recoverPanics turns a panic in an inner stage into a generic 500 (the
// stack goes to the log). http.ErrAbortHandler is re-panicked so the server
// aborts the connection as intended; a panic after the response started
// also aborts, so the client never takes a truncated body for a whole one.
func recoverPanics(log *slog.Logger) gatehouse.Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				rec := gatehouse.RecordFrom(r.Context())
				rec.Block("recover", "panic")
				log.Error("panic serving request", "request_id", rec.Snapshot().RequestID,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if sw, ok := w.(*httpx.StatusWriter); ok && sw.Status != 0 {
					panic(http.ErrAbortHandler)
				}
				problem.Write(w, r, http.StatusInternalServerError)
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// routeStage matches requests against the spec.
type routeStage struct {
	spec    *openapi.Spec
	base    string // base_path: stripped before matching; the upstream URL path takes its place
	modes   map[*openapi.Operation]gatehouse.Mode
	def     gatehouse.Mode
	methods []string // every method the spec uses, for Allow
	qlim    oasvalidate.FormLimits
}

func parseMode(s string) gatehouse.Mode {
	if s == config.ModeMonitor {
		return gatehouse.Monitor
	}
	return gatehouse.Enforce
}

func newRouteStage(spec *openapi.Spec, cfg *config.Config) (*routeStage, error) {
	s := &routeStage{spec: spec, modes: map[*openapi.Operation]gatehouse.Mode{}, def: parseMode(cfg.Mode),
		qlim: oasvalidate.FormLimits{MaxFields: cfg.Request.MaxObjectKeys, MaxValueLen: int(cfg.Request.MaxStringLength)}}
	switch cfg.BasePath {
	case "":
		base, err := spec.BasePath()
		if err != nil {
			return nil, config.AtPath("base_path", err)
		}
		s.base = base
	case "/":
	default:
		s.base = cfg.BasePath
	}
	seen := map[string]bool{}
	for _, op := range spec.Operations {
		if !seen[op.Method] {
			seen[op.Method] = true
			s.methods = append(s.methods, op.Method)
		}
	}
	sort.Strings(s.methods)
	keys := make([]string, 0, len(cfg.Routes))
	for k := range cfg.Routes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		ro := cfg.Routes[key]
		op := findOperation(spec, key)
		if op == nil && ro.Deny {
			continue // removed from the spec by routeEdits
		}
		if op == nil {
			return nil, config.AtPath("routes."+key, fmt.Errorf("operation %q is not in the spec", key))
		}
		if ro.Mode != "" {
			s.modes[op] = parseMode(ro.Mode)
		}
	}
	return s, nil
}

// findOperation looks an operation up by operationId or "METHOD /template".
func findOperation(spec *openapi.Spec, key string) *openapi.Operation {
	for _, op := range spec.Operations {
		if op.ID == key || op.Method+" "+op.Template == key {
			return op
		}
	}
	if m, t, ok := strings.Cut(key, " "); ok {
		for _, op := range spec.Operations {
			if strings.EqualFold(op.Method, m) && op.Template == t {
				return op
			}
		}
	}
	return nil
}

func (s *routeStage) allow(rawPath string) string {
	var ok []string
	for _, m := range s.methods {
		if _, err := s.spec.Match(m, rawPath); err == nil {
			ok = append(ok, m)
		}
	}
	return strings.Join(ok, ", ")
}

func (s *routeStage) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := gatehouse.RecordFrom(r.Context())
		n := len(openapi.StripOverrideHeaders(r.Header))
		if n > 0 {
			rec.Set("stripped_override_headers", strconv.Itoa(n))
		}
		if _, bad := badConnectionToken(r.Header); bad {
			rec.Block("route", "connection_header")
			problem.Write(w, r, http.StatusBadRequest)
			return
		}
		raw := r.RequestURI
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			raw = raw[:i]
		}
		if raw == "" || raw[0] != '/' { // "*" and absolute-form targets
			rec.Block("route", "bad_path")
			problem.Write(w, r, http.StatusBadRequest)
			return
		}
		// One parsed, canonical query: ';', bad escapes, invalid UTF-8 and
		// floods are refused; what the later stages validate and what the
		// proxy forwards is the canonical re-encoding.
		if r.URL.RawQuery != "" {
			fs, err := oasvalidate.ParseQuery(r.URL.RawQuery, s.qlim)
			if err != nil {
				rec.Block("route", "bad_query")
				problem.Write(w, r, http.StatusBadRequest)
				return
			}
			r.URL.RawQuery = oasvalidate.CanonicalQuery(fs)
			r.URL.ForceQuery = false
		}
		raw, under := openapi.TrimBasePath(s.base, raw)
		if !under {
			rec.Block("route", "no_route")
			problem.Write(w, r, http.StatusNotFound)
			return
		}
		m, err := s.spec.Match(r.Method, raw)
		if err != nil {
			switch {
			case errors.Is(err, openapi.ErrBadPath):
				rec.Block("route", "bad_path")
				problem.Write(w, r, http.StatusBadRequest)
			case errors.Is(err, openapi.ErrMethodNotAllowed):
				rec.Block("route", "method_not_allowed")
				a := ""
				var mna *openapi.MethodNotAllowedError
				if errors.As(err, &mna) {
					a = strings.Join(mna.Allow, ", ")
				} else {
					a = s.allow(raw)
				}
				if a != "" {
					w.Header().Set("Allow", a)
				}
				problem.Write(w, r, http.StatusMethodNotAllowed)
			default:
				rec.Block("route", "no_route")
				problem.Write(w, r, http.StatusNotFound)
			}
			return
		}
		op := m.Operation
		mode, ok := s.modes[op]
		if !ok {
			mode = s.def
		}
		rec.OperationID = op.ID
		rt := &gatehouse.Route{OperationID: op.ID, Method: op.Method, Template: op.Template,
			Path: m.Path, RawPath: m.RawPath, Params: m.Params, Tags: op.Tags, Mode: mode}
		if gatehouse.SetRoute(r.Context(), rt) { // the request context's slot: no new context
			next.ServeHTTP(w, r)
			return
		}
		ctx := proxy.WithTargetPath(gatehouse.WithRoute(r.Context(), rt), m.RawPath)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// reasonLabel bounds the reason used as a metric label: stages record
// "<rule>: <detail>" and the detail may carry request values, which must
// never become label values (unbounded cardinality, attacker-chosen text).
// The part before the first ": " is a config-defined name or a fixed kind.
func reasonLabel(reason string) string {
	if i := strings.Index(reason, ": "); i >= 0 {
		reason = reason[:i]
	}
	if len(reason) > 64 {
		reason = reason[:64]
	}
	return reason
}
