package dynamic

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// BOLA (GH2010) takes objects identity A owns (created by A, objects whose
// owner-like field names A, A's own values such as its user ID, username
// or e-mail for user-like parameters) and requests them as identity B on
// every operation addressing an object by path parameters of any name,
// swapping each parameter in turn (nested resources: the object, then
// each parent). The proof is the effect, never the status alone:
//
//   - reads: A itself gets a real 2xx for the object, an anonymous request
//     is refused (otherwise the resource is public or authentication is
//     broken, which GH2001 reports), B gets A's object back (similarity
//     ≥ 0.8 with A's answer) and B's fetch of its own object differs from
//     A's (the endpoint does not ignore the ID, as /users/{id} aliases of
//     /me do);
//
//   - writes (PUT/PATCH): B sends the update with a unique marker in one
//     plain string field (never a credential, never a value naming A), and
//     A's own read of the object afterwards must show the marker; without
//     a read operation, B's answer must carry the marker and A's object
//     (and none of B's own values). An API that answers 2xx but changes
//     B's own record instead leaves A's object untouched: silent. A's
//     original value is written back afterwards (best effort).
//
//   - deletes: only of objects the check itself created (bola_delete.go):
//     gone for the owner after the other identity's DELETE.
//
//   - credential changes (PUT /users/{username}/password...): only on
//     throwaway accounts the check registers itself, never in safe mode
//     (bola_credential.go): the victim's account logs in with the password
//     the attacker set, or its own password stops working while the
//     attacker's does not change. Critical: an account takeover.
//
// Administrative-looking operations are left to GH2011.
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
		return pathParamRe.MatchString(op.Template) && !scan.LooksAdmin(op) && !scan.IsLogin(op) && !scan.IsLogout(op) &&
			!(op.Method != http.MethodGet && scan.IsCredentialChange(op)) // bola_credential.go, on throwaway accounts
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
	if err := bolaDeletes(ctx, t, report); err != nil {
		return err
	}
	return bolaCredentials(ctx, t, report)
}

func bolaPair(ctx context.Context, t *scan.Target, op *openapi.Operation, param, key string, a, b *scan.Identity, tried map[string]bool) (*scan.Finding, error) {
	var objA string
	ownB := t.OwnedParam(op, param, b)
	for _, v := range t.OwnedParam(op, param, a) {
		if !contains(ownB, v) && !b.IsSelf(v) {
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
	if op.Method != http.MethodGet {
		return bolaWrite(ctx, t, op, p, param, key, objA, a, b)
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
	if sameData(anon, exA) {
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
	if sim < sameObject {
		return nil, nil
	}
	if len(ownB) > 0 {
		pb := t.Prepare(op, b)
		pb.Path[param] = ownB[0]
		exOwn, err := t.Send(ctx, pb, b)
		if err != nil {
			return nil, stopErr(ctx, err)
		}
		if exOwn.OK() && scan.Similarity(exOwn.Body, exA.Body) >= 0.95 {
			return nil, nil // the ID does not select the object
		}
	}
	f := scan.Finding{Param: param,
		Detail: fmt.Sprintf("Identity %s read the %s %s=%s owned by identity %s (%s %s answered %d, body %.0f%% identical to the owner's; anonymous request answered %d).",
			b.Name, key, param, objA, a.Name, op.Method, op.Template, exB.Status, sim*100, anon.Status),
		Fix: bolaFix(op, param),
	}.At(op).With(exB, "identity "+b.Name+" requests "+a.Name+"'s object").With(exA, "the owner's own request").With(anon, "anonymous request is refused")
	return &f, nil
}

func bolaFix(op *openapi.Operation, param string) string {
	return fmt.Sprintf("authz: { rules: { %s: { owner: { param: %s, claim: sub } } } }", yamlQuote(op.ID), yamlQuote(param))
}

// readOp returns the read-back of a write: the GET operation on the same
// path template as op, else on its nearest parent object (PUT
// /users/{username}/email is read back through GET /users/{username}); nil
// if the spec has neither. A parent qualifies when its template is a prefix
// of op's ending in a path parameter, so it addresses the same object.
func readOp(t *scan.Target, op *openapi.Operation) *openapi.Operation {
	var parent *openapi.Operation
	for _, o := range t.Spec.Operations {
		if o.Method != http.MethodGet {
			continue
		}
		if o.Template == op.Template {
			return o
		}
		if strings.HasPrefix(op.Template, o.Template+"/") && strings.HasSuffix(o.Template, "}") &&
			(parent == nil || len(o.Template) > len(parent.Template)) {
			parent = o
		}
	}
	return parent
}

var bolaMarkerN atomic.Int64

// markerField picks the body field of a write that carries the marker: a
// plain string property that is no credential, does not name the owner
// (its value in the owner's view is none of a's own values or login
// fields) and is not the path parameter's own value. Fields named like
// descriptions come first; an e-mail field gets an e-mail marker.
func markerField(body, view map[string]any, a *scan.Identity, objA string) (string, string) {
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := markerRank(keys[i]), markerRank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	n := bolaMarkerN.Add(1)
	for _, k := range keys {
		if _, ok := body[k].(string); !ok || scan.SecretName(k) {
			continue
		}
		cur, _ := view[k].(string)
		mail := strings.Contains(strings.ToLower(k), "mail")
		// A field holding one of the owner's own values names the owner:
		// changing it could move the object. An e-mail that is not a
		// login field is the exception (changing another's e-mail is the
		// account-takeover step); it is written back afterwards.
		if cur != "" && ((a.IsSelf(cur) && !mail) || cur == objA || isLoginValue(a, cur)) {
			continue
		}
		if mail {
			return k, fmt.Sprintf("ghscan-bola-%d@example.com", n)
		}
		if markerRank(k) > 2 {
			continue // ids, names, titles, slugs: changing them moves the object
		}
		return k, fmt.Sprintf("ghscan-bola-%d", n)
	}
	return "", ""
}

func markerRank(k string) int {
	l := strings.ToLower(k)
	switch {
	case strings.Contains(l, "desc") || strings.Contains(l, "bio") || strings.Contains(l, "note") ||
		strings.Contains(l, "text") || strings.Contains(l, "content") || strings.Contains(l, "comment") || strings.Contains(l, "about"):
		return 0
	case strings.Contains(l, "mail"):
		return 2
	case l == "id" || strings.HasSuffix(l, "_id") || strings.HasSuffix(l, "id") || strings.Contains(l, "name") ||
		strings.Contains(l, "title") || strings.Contains(l, "slug") || l == "login" || l == "handle":
		return 3
	}
	return 1
}

func isLoginValue(a *scan.Identity, v string) bool {
	for _, x := range a.LoginFields {
		if x == v {
			return true
		}
	}
	return false
}

// bolaWrite confirms a write on a's object by b with the marker's effect.
func bolaWrite(ctx context.Context, t *scan.Target, op *openapi.Operation, p *scan.Prepared, param, key, objA string, a, b *scan.Identity) (*scan.Finding, error) {
	body := p.BodyMap()
	if body == nil {
		return nil, nil
	}
	for k := range body {
		if scan.SecretName(k) {
			delete(body, k) // never change the owner's credentials
		}
	}
	rd := readOp(t, op)
	var before map[string]any
	var rp *scan.Prepared
	if rd != nil {
		rp = t.Prepare(rd, a)
		for k, v := range p.Path {
			rp.Path[k] = v
		}
		exR, err := t.Send(ctx, rp, a)
		if err != nil {
			return nil, stopErr(ctx, err)
		}
		if !granted(exR) {
			return nil, nil
		}
		before = jsonObject(exR.Body)
	}
	field, mark := markerField(body, before, a, objA)
	if field == "" {
		return nil, nil
	}
	for k, v := range before { // keep the owner's other values (PUT replaces)
		if _, ok := body[k]; ok && !scan.SecretName(k) && k != field {
			body[k] = v
		}
	}
	body[field] = mark
	anonP := p.Clone()
	anon, err := t.Send(ctx, anonP, nil)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	if granted(anon) {
		return nil, nil // public, or GH2001's finding
	}
	exB, err := t.Send(ctx, p, b)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	if !granted(exB) {
		return nil, nil
	}
	var proof *scan.Exchange
	how := ""
	if rd != nil {
		exR, err := t.Send(ctx, rp, a)
		if err != nil {
			return nil, stopErr(ctx, err)
		}
		if granted(exR) && bytes.Contains(exR.Body, []byte(mark)) {
			proof, how = exR, "the owner's read-back shows it"
		}
	} else if bytes.Contains(exB.Body, []byte(mark)) && bytes.Contains(exB.Body, []byte(objA)) && !mentionsSelf(exB.Body, b) {
		proof, how = exB, "the answer is the owner's object with the marker"
	}
	if proof == nil {
		return nil, nil // nothing of a's changed (the caller's own record, or nothing at all)
	}
	if orig, ok := before[field]; ok { // restore, as the owner, else as b (who just could write it)
		rb := p.Clone()
		rb.BodyMap()[field] = orig
		ex, err := t.Send(ctx, rb, a)
		if scan.Stop(ctx, err) {
			return nil, err
		}
		if ex == nil || !ex.OK() {
			if _, err := t.Send(ctx, rb.Clone(), b); scan.Stop(ctx, err) {
				return nil, err
			}
		}
	}
	f := scan.Finding{Param: param,
		Detail: fmt.Sprintf("Identity %s modified the %s %s=%s owned by identity %s: %s %s answered %d and %s (field %s set to %q); anonymous request answered %d.",
			b.Name, key, param, objA, a.Name, op.Method, op.Template, exB.Status, how, field, mark, anon.Status),
		Fix: bolaFix(op, param),
	}.At(op).With(exB, "identity "+b.Name+" writes "+a.Name+"'s object").With(proof, "the effect").With(anon, "anonymous request is refused")
	return &f, nil
}

// mentionsSelf reports whether body carries one of id's own values as a
// whole JSON string or number.
func mentionsSelf(body []byte, id *scan.Identity) bool {
	for _, v := range scan.JSONLeaves(body) {
		if id.IsSelf(v) {
			return true
		}
	}
	return false
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
