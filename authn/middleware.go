package authn

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/problem"
)

// Stage is the stage name authn uses in the audit record.
const Stage = "authn"

// MiddlewareOptions configures Middleware. The zero value authenticates
// nothing (every request is anonymous) but still strips spoofed identity
// headers.
type MiddlewareOptions struct {
	// Authenticators are tried in order; the first that does not return
	// ErrNoCredentials decides.
	Authenticators []Authenticator
	// Realm is sent in WWW-Authenticate; default "gatehouse".
	Realm string
	// Identity headers set on the request for the upstream after a
	// successful authentication; "" leaves one out. Client-sent copies of
	// each (any case, "_" for "-") are always removed first, as is every
	// header in the X-Gatehouse- namespace.
	SubjectHeader, RolesHeader, ScopesHeader, IssuerHeader, MethodHeader string
	// StripHeaders names further headers removed from every request
	// (with the same case and underscore variants).
	StripHeaders []string
	// Logger receives one Info line per rejected credential (reason only,
	// never the credential). Nil discards.
	Logger *slog.Logger
	// OnFailure, when set, is called with every failure reason (for metrics),
	// in enforce and monitor mode alike.
	OnFailure func(r *http.Request, reason string)
	// IsLogout reports whether r is a logout request. For an authenticated
	// logout request, OnLogout runs when the wrapped handler answers 2xx,
	// before that status reaches the client; if OnLogout fails the client
	// gets 503 instead, so a logout never appears to succeed while the token
	// stays valid.
	IsLogout func(r *http.Request) bool
	OnLogout func(ctx context.Context, p *Principal) error
}

// Middleware returns the authentication stage: it removes client-sent
// identity headers, runs the authenticators, and either puts the Principal in
// the context (and the identity headers on the request), lets an anonymous
// request through without one (authorization decides whether anonymous is
// allowed), or answers 401 with a generic problem body and
// `WWW-Authenticate: Bearer error="invalid_token"`. In monitor mode (per
// route, see gatehouse.RouteFrom) a rejected request continues anonymously and
// the violation is recorded. The returned middleware is safe for concurrent use.
func Middleware(o MiddlewareOptions) gatehouse.Middleware {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	realm := o.Realm
	if realm == "" {
		realm = "gatehouse"
	}
	strip := httpx.IdentityNames(append([]string{o.SubjectHeader, o.RolesHeader, o.ScopesHeader, o.IssuerHeader, o.MethodHeader}, o.StripHeaders...)...)
	challenge := `Bearer realm="` + strings.ReplaceAll(realm, `"`, "") + `"`
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			httpx.StripIdentity(r.Header, strip)
			ctx := r.Context()
			p, err := authenticate(o.Authenticators, r)
			if err != nil {
				reason := Reason(err)
				if o.OnFailure != nil {
					o.OnFailure(r, reason)
				}
				mode := gatehouse.Enforce
				if rt := gatehouse.RouteFrom(ctx); rt != nil {
					mode = rt.Mode
				}
				log.LogAttrs(ctx, slog.LevelInfo, "authentication failed",
					slog.String("reason", reason), slog.String("mode", mode.String()),
					slog.String("error", err.Error()))
				if gatehouse.Decide(ctx, mode, Stage, reason) {
					w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
					problem.Write(w, r, http.StatusUnauthorized)
					return
				}
				next.ServeHTTP(w, r)
				return
			}
			if p == nil {
				// Anonymous: no credentials of any kind. Authorization decides.
				next.ServeHTTP(w, r)
				return
			}
			rec := gatehouse.RecordFrom(ctx)
			rec.SetSubject(p.Subject)
			rec.Set("auth_method", p.Method)
			setHeader(r.Header, o.SubjectHeader, p.Subject)
			setHeader(r.Header, o.IssuerHeader, p.Issuer)
			setHeader(r.Header, o.MethodHeader, p.Method)
			setHeader(r.Header, o.RolesHeader, joinSafe(p.Roles))
			setHeader(r.Header, o.ScopesHeader, joinSafe(p.Scopes))
			r = r.WithContext(NewContext(ctx, p))
			if o.IsLogout != nil && o.OnLogout != nil && o.IsLogout(r) {
				lw := &logoutWriter{ResponseWriter: w, r: r, p: p, fn: o.OnLogout, log: log}
				next.ServeHTTP(lw, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// WriteChallenge writes the 401 response Middleware sends for a missing
// credential (`WWW-Authenticate: Bearer realm=...` without an error), for
// the authorization stage to use when it refuses an anonymous request.
func WriteChallenge(w http.ResponseWriter, r *http.Request, realm string) {
	if realm == "" {
		realm = "gatehouse"
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+strings.ReplaceAll(realm, `"`, "")+`"`)
	problem.Write(w, r, http.StatusUnauthorized)
}

// authenticate runs the chain: the first authenticator that does not return
// ErrNoCredentials decides. (nil, nil) means anonymous.
func authenticate(chain []Authenticator, r *http.Request) (*Principal, error) {
	for _, a := range chain {
		p, err := a.Authenticate(r)
		if errors.Is(err, ErrNoCredentials) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, Fail(ReasonInvalidCredentials, errors.New("authenticator returned no principal"))
		}
		return p, nil
	}
	return nil, nil
}

func setHeader(h http.Header, name, v string) {
	if name != "" && v != "" {
		h.Set(name, v)
	}
}

// joinSafe joins values with ","; a value that contains a comma or a
// control character is dropped so that a crafted role can never read as two.
func joinSafe(vs []string) string {
	var b strings.Builder
	for _, v := range vs {
		if v == "" || strings.ContainsFunc(v, func(c rune) bool { return c == ',' || c < 0x20 || c == 0x7f }) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	return b.String()
}

// logoutWriter runs the logout hook when the upstream's status is known to
// be 2xx, before the status goes out.
type logoutWriter struct {
	http.ResponseWriter
	r      *http.Request
	p      *Principal
	fn     func(context.Context, *Principal) error
	log    *slog.Logger
	done   bool
	failed bool
}

func (w *logoutWriter) WriteHeader(code int) {
	if w.failed {
		return
	}
	if !w.done && code >= 100 && code < 200 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if !w.done {
		w.done = true
		if code >= 200 && code < 300 {
			if err := w.fn(w.r.Context(), w.p); err != nil {
				w.failed = true
				w.log.LogAttrs(w.r.Context(), slog.LevelError, "logout: revoking the token failed",
					slog.String("subject", w.p.Subject), slog.String("error", err.Error()))
				gatehouse.RecordFrom(w.r.Context()).Set("logout_error", "revoke_failed")
				for k := range w.ResponseWriter.Header() {
					delete(w.ResponseWriter.Header(), k)
				}
				problem.Write(w.ResponseWriter, w.r, http.StatusServiceUnavailable)
				return
			}
			gatehouse.RecordFrom(w.r.Context()).Set("logout", "revoked")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *logoutWriter) Write(b []byte) (int, error) {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	if w.failed {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// Flush commits the status (running the hook) before flushing.
func (w *logoutWriter) Flush() {
	if !w.done {
		w.WriteHeader(http.StatusOK)
	}
	if !w.failed {
		_ = http.NewResponseController(w.ResponseWriter).Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *logoutWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
