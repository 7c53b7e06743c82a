package gateway

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpx"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/pwpolicy"
	"github.com/gatehouse/gatehouse/jsonx"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/problem"
)

// CredentialExtension marks a registration or password-change operation in
// the spec, with the keys of request.operations.<op>.credential:
// `x-gatehouse-credential: {field: password, user_fields: [username, email]}`
// (or just `x-gatehouse-credential: password`). The config wins when both
// are set.
const CredentialExtension = openapi.CredentialExtension

// credRule is the compiled policy of one operation.
type credRule struct {
	field string
	user  []string
	pol   pwpolicy.Policy
}

// credentialStage checks the new password of marked operations.
type credentialStage struct {
	ops     map[string]credRule // by operation ID
	maxBody int64
	lim     jsonx.Limits
	observe func(op, reason string)
}

// buildCredential compiles the password policy stage; nil when no
// operation is marked. It runs after request validation, so the body has
// already passed the contract (duplicate keys, schema) when validation is
// on; it parses the body with jsonx itself, so it refuses duplicates
// even when validation is off.
func (b *builder) buildCredential(ctx context.Context) (gatehouse.Middleware, error) {
	if b.spec == nil {
		return nil, nil
	}
	rc := &b.cfg.Request
	s := &credentialStage{ops: map[string]credRule{}}
	for _, op := range b.spec.Operations {
		c, ok, err := credentialExtension(op)
		if err != nil {
			return nil, config.AtPath("spec", fmt.Errorf("operation %s: %w", op.ID, err))
		}
		if ok {
			s.ops[op.ID] = c
		}
	}
	keys := make([]string, 0, len(rc.Operations))
	for k, o := range rc.Operations {
		if o.Credential != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		op := findOperation(b.spec, k)
		if op == nil {
			return nil, config.AtPath("request.operations."+k, fmt.Errorf("operation %q is not in the spec", k))
		}
		c := rc.Operations[k].Credential
		s.ops[op.ID] = credRule{field: c.Field, user: c.UserFields,
			pol: pwpolicy.Policy{MinLength: c.MinLength, MaxLength: c.MaxLength}}
	}
	if len(s.ops) == 0 {
		return nil, nil
	}
	s.maxBody = int64(rc.MaxBody)
	if s.maxBody <= 0 {
		s.maxBody = int64(b.cfg.Limits.MaxBody)
	}
	s.lim = requestJSONLimits(rc)
	if b.metrics != nil {
		rej, err := reuse(b.metrics, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_password_policy_rejections_total",
			Help: "New passwords refused (or, in monitor mode, flagged) by the password policy, by operation and reason.",
		}, []string{"operation", "reason"}))
		if err != nil {
			return nil, err
		}
		s.observe = func(op, reason string) { rej.WithLabelValues(op, reason).Inc() }
	}
	return s.middleware, nil
}

// credentialExtension reads the operation's x-gatehouse-credential
// (openapi.Operation.Credential, the parser the scanner shares).
func credentialExtension(op *openapi.Operation) (credRule, bool, error) {
	c, ok, err := op.Credential()
	if err != nil || !ok {
		return credRule{}, false, err
	}
	return credRule{field: c.Field, user: c.UserFields, pol: pwpolicy.Policy{MinLength: c.MinLength, MaxLength: c.MaxLength}}, true, nil
}

// credentialReject is the problem detail of a refused password: the reason
// category only, never the value.
func credentialReject(w http.ResponseWriter, r *http.Request, status int, reason string) {
	d := problem.New(r.Context(), status)
	d.Detail = "password policy: " + reason
	problem.WriteDetails(w, d)
}

func (s *credentialStage) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := gatehouse.RouteFrom(r.Context())
		if rt == nil {
			next.ServeHTTP(w, r)
			return
		}
		rule, ok := s.ops[rt.OperationID]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		status, reason := s.check(r, rule)
		if reason == "" {
			next.ServeHTTP(w, r)
			return
		}
		if s.observe != nil {
			s.observe(rt.OperationID, reason)
		}
		rec := gatehouse.RecordFrom(r.Context())
		if rt.Mode == gatehouse.Monitor {
			rec.Monitor("credential", reason)
			next.ServeHTTP(w, r)
			return
		}
		rec.Block("credential", reason)
		credentialReject(w, r, status, reason)
	})
}

// check returns the status and reason category refusing r, or "" to pass.
// Nothing derived from the password leaves this function but the category.
func (s *credentialStage) check(r *http.Request, rule credRule) (int, string) {
	body, err := httpx.Body(r, s.maxBody)
	if errors.Is(err, httpx.ErrBodyTooLarge) {
		return http.StatusRequestEntityTooLarge, "body_too_large"
	} else if err != nil {
		return http.StatusBadRequest, "bad_body"
	}
	if len(body) == 0 {
		return 0, "" // no new password: the contract decides whether a body is required
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return http.StatusUnsupportedMediaType, "unsupported_media_type"
	}
	var pws []any
	var users []string
	switch {
	case mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")):
		doc, err := httpx.JSON(r, body, s.lim)
		if err != nil {
			return http.StatusBadRequest, "bad_json" // duplicate keys, limits, syntax
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			return 0, "" // no property to check: the contract judges the shape
		}
		pws = pwpolicy.Lookup(obj, rule.field)
		for _, f := range rule.user {
			for _, v := range pwpolicy.Lookup(obj, f) {
				if s, ok := v.(string); ok {
					users = append(users, s)
				}
			}
		}
	case mt == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return http.StatusBadRequest, "bad_form"
		}
		for k, vs := range form {
			for _, v := range vs {
				if strings.EqualFold(k, rule.field) {
					pws = append(pws, v)
				}
				for _, f := range rule.user {
					if strings.EqualFold(k, f) {
						users = append(users, v)
					}
				}
			}
		}
	default:
		return http.StatusUnsupportedMediaType, "unsupported_media_type"
	}
	for _, v := range pws {
		pw, ok := v.(string)
		if !ok {
			return http.StatusBadRequest, string(pwpolicy.InvalidType)
		}
		if reason := rule.pol.Check(pw, users...); reason != pwpolicy.OK {
			return http.StatusBadRequest, string(reason)
		}
	}
	return 0, ""
}
