package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"regexp"

	"github.com/gatehouse/gatehouse/internal/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// BOLA (GH2010) takes objects identity A owns (created by A, or A's own user
// ID) and requests them as identity B on every operation addressing an
// object by path parameters, swapping each parameter in turn (nested
// resources: the object, then each parent). It reports only when
//   - A itself gets a real 2xx for the object,
//   - an anonymous request is refused (otherwise the resource is public or
//     authentication is broken, which GH2001 reports),
//   - B gets a 2xx whose body is the same object as A's (similarity ≥ 0.8,
//     for reads), and
//   - B's fetch of its own object differs from A's object (the endpoint does
//     not ignore the ID, as /users/{id} aliases of /me do).
//
// Administrative-looking operations are left to GH2011, DELETE is never sent.
type BOLA struct{}

var _ scan.Check = BOLA{}

// Meta implements scan.Check.
func (BOLA) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2010", Title: "Broken object level authorization: another user's object is accessible", Category: "bola",
		Severity: scan.High, OWASP: scan.API1BOLA, CWE: "CWE-639",
		Description: "One identity read or modified an object that belongs to another identity by changing the ID in the path.",
		Remediation: "Check on every request that the caller owns (or may access) the object the path names, in the data layer, not only in the UI.",
	}
}

var pathParamRe = regexp.MustCompile(`\{([^}]+)\}`)

// pathParams returns the path parameters of tmpl, the last one first, then
// its parents from the nearest to the root: /orgs/{org}/projects/{id} →
// [id org]. The object itself is tried first (its finding keeps the
// fingerprint a one-parameter path always had), then each parent.
func pathParams(tmpl string) []string {
	var out []string
	for _, m := range pathParamRe.FindAllStringSubmatch(tmpl, -1) {
		out = append([]string{m[1]}, out...)
	}
	return out
}

// Run implements scan.Check. Each path parameter with objects owned by an
// identity is swapped in turn (the other parameters keep the owner's own
// values), so a nested resource whose parent ID alone is not checked
// (/orgs/{org_id}/projects/{project_id} with an unchecked org) is found
// too. Each distinct request is tried once per pair of identities, and an
// operation stops at its first finding.
func (BOLA) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool {
		switch op.Method {
		case http.MethodGet, http.MethodPatch, http.MethodPut:
		default:
			return false
		}
		return pathParamRe.MatchString(op.Template) && !scan.LooksAdmin(op) && !scan.IsLogin(op) && !scan.IsLogout(op)
	}) {
		if !t.Client.Allowed(op.Method) {
			continue
		}
		tried := map[string]bool{}
		done := false
		for _, param := range pathParams(op.Template) {
			key := scan.ParamKey(op.Template, param)
			for _, a := range t.Identities {
				if done || a.Privileged && op.Method != http.MethodGet {
					continue
				}
				for _, b := range t.Users() {
					if b == a || done {
						continue
					}
					f, err := bolaPair(ctx, t, op, param, key, a, b, tried)
					if err != nil {
						return err
					}
					if f != nil {
						report(*f)
						done = true
					}
				}
			}
		}
	}
	return nil
}

func bolaPair(ctx context.Context, t *scan.Target, op *openapi.Operation, param, key string, a, b *scan.Identity, tried map[string]bool) (*scan.Finding, error) {
	var objA string
	for _, v := range t.Store.Owned(a.Name, key) {
		if !contains(t.Store.Owned(b.Name, key), v) {
			objA = v
			break
		}
	}
	if objA == "" {
		return nil, nil
	}
	p := t.Prepare(op, a)
	p.Path[param] = objA
	if u := t.Request(p, a).URL + "\x00" + a.Name + "\x00" + b.Name; tried[u] {
		return nil, nil // the same request, reached through another parameter
	} else {
		tried[u] = true
	}
	exA, err := t.Send(ctx, p, a)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	if !granted(exA) {
		return nil, nil
	}
	anon, err := t.Send(ctx, p, nil)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	if anon.OK() {
		return nil, nil // public, or GH2001's finding
	}
	exB, err := t.Send(ctx, p, b)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	if !granted(exB) {
		return nil, nil
	}
	sim := scan.Similarity(exA.Body, exB.Body)
	if sim < 0.8 {
		return nil, nil
	}
	if own := t.Store.Owned(b.Name, key); len(own) > 0 && op.Method == http.MethodGet {
		pb := t.Prepare(op, b)
		pb.Path[param] = own[0]
		exOwn, err := t.Send(ctx, pb, b)
		if err != nil {
			return nil, stopErr(ctx, err)
		}
		if exOwn.OK() && scan.Similarity(exOwn.Body, exA.Body) >= 0.95 {
			return nil, nil // the ID does not select the object
		}
	}
	verb := "read"
	if op.Method != http.MethodGet {
		verb = "modified"
	}
	f := scan.Finding{Param: param,
		Detail: fmt.Sprintf("Identity %s %s the %s %s=%s owned by identity %s (%s %s answered %d, body %.0f%% identical to the owner's; anonymous request answered %d).",
			b.Name, verb, key, param, objA, a.Name, op.Method, op.Template, exB.Status, sim*100, anon.Status),
		Fix: fmt.Sprintf("authz: { rules: { %s: { owner: { param: %s, claim: sub } } } }", yamlQuote(op.ID), yamlQuote(param)),
	}.At(op).With(exB, "identity "+b.Name+" requests "+a.Name+"'s object").With(exA, "the owner's own request").With(anon, "anonymous request is refused")
	return &f, nil
}

func stopErr(ctx context.Context, err error) error {
	if scan.Stop(ctx, err) {
		return err
	}
	return nil
}

func contains(xs []string, v string) bool {
	for _, x := range xs {
		if x == v {
			return true
		}
	}
	return false
}
