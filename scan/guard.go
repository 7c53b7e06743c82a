package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode"

	"github.com/gatehouse/gatehouse/openapi"
)

// ErrGuarded matches (errors.Is) every request the scan's guard refuses: an
// excluded operation, a destructive one in safe mode or after its one call,
// an injection payload in a credential field of the scan's own identities.
// It wraps ErrUnsafe, so checks treat it like a method forbidden by safe
// mode: they skip the request and go on.
var ErrGuarded = fmt.Errorf("%w: refused by the scan's damage guard", ErrUnsafe)

// OpPolicy is what the guard does with one operation.
type OpPolicy int

// Policies, from least to most restricted.
const (
	// OpNormal operations are sent as the Client's options allow.
	OpNormal OpPolicy = iota
	// OpDestructive operations (reset, drop, seed, wipe, delete a whole
	// collection...) are never sent in safe mode and at most once per scan
	// otherwise; the crawl never sends them.
	OpDestructive
	// OpExcluded operations (--exclude, x-gatehouse-scan: skip) are never sent.
	OpExcluded
)

// destructiveWords are the words of an operationId, summary or path that
// mark an operation as destroying data beyond one object.
var destructiveWords = map[string]bool{
	"reset": true, "drop": true, "seed": true, "reseed": true, "wipe": true, "purge": true, "truncate": true,
	"flush": true, "destroy": true, "erase": true, "nuke": true, "createdb": true, "initdb": true, "resetdb": true,
	"dropdb": true, "reinit": true, "reinitialize": true, "reinitialise": true, "populate": true, "factory": true,
	"teardown": true, "clear": true, "cleanup": true, "delete": true, "remove": true, "deleteall": true,
}

// words splits s into lower-case words at non-letters and camelCase
// boundaries: "resetDatabase" → [reset database], "/init-db" → [init db].
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	return out
}

// scanExtension returns the value of x-gatehouse-scan on op ("" if none).
func scanExtension(op *openapi.Operation) string {
	if openapi.Op(op) == nil || openapi.Op(op).Extensions == nil {
		return ""
	}
	n := openapi.Op(op).Extensions.GetOrZero("x-gatehouse-scan")
	if n == nil {
		return ""
	}
	var s string
	if n.Decode(&s) != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(s))
}

// Classify returns the guard's policy for op and why: x-gatehouse-scan:
// skip (excluded) or destructive; otherwise the words of its operationId,
// summary and static path segments ("reset", "drop", "seed", "wipe",
// "delete", ...) and its method. DELETE of one object (a path ending in a
// parameter) is not destructive here: safe mode forbids it already, and a
// check deleting what it created must be able to. DELETE of a path without
// a trailing parameter (a whole collection) is.
func Classify(op *openapi.Operation) (OpPolicy, string) {
	switch scanExtension(op) {
	case "skip":
		return OpExcluded, "x-gatehouse-scan: skip"
	case "destructive":
		return OpDestructive, "x-gatehouse-scan: destructive"
	}
	if op.Method == http.MethodDelete {
		if strings.HasSuffix(op.Template, "}") {
			return OpNormal, ""
		}
		return OpDestructive, "DELETE on a collection"
	}
	summary := ""
	if openapi.Op(op) != nil {
		summary = openapi.Op(op).Summary
	}
	var static []string
	for _, seg := range strings.Split(op.Template, "/") {
		if !strings.HasPrefix(seg, "{") {
			static = append(static, seg)
		}
	}
	for _, src := range []struct{ what, text string }{{"operationId", op.ID}, {"path", strings.Join(static, "/")}, {"summary", summary}} {
		if src.what == "operationId" && !op.HasOperationID {
			continue
		}
		for _, w := range words(src.text) {
			if !destructiveWords[w] {
				continue
			}
			if (w == "delete" || w == "remove") && strings.Contains(op.Template, "{") {
				continue // "delete a book" on /books/{title}/delete: one object
			}
			return OpDestructive, fmt.Sprintf("%q in its %s", w, src.what)
		}
	}
	return OpNormal, ""
}

// guard is installed on the Client by Run: it refuses excluded operations,
// destructive ones in safe mode or after their one call, and injection
// payloads in the credentials of the scan's own identities. It is safe for
// concurrent use.
type guard struct {
	spec *openapi.Spec
	base string // the target's base path, stripped before route matching
	safe bool
	t    *Target

	policy map[string]OpPolicy // op ID → policy (absent = normal)
	why    map[string]string
	cred   map[string]bool // op ID → IsCredentialChange

	mu     sync.Mutex
	called map[string]int
}

func newGuard(t *Target, safe bool, exclude []string) (*guard, error) {
	g := &guard{spec: t.Spec, base: t.Base.Path, safe: safe, t: t,
		policy: map[string]OpPolicy{}, why: map[string]string{}, cred: map[string]bool{}, called: map[string]int{}}
	if t.Spec == nil {
		return g, nil
	}
	for _, op := range t.Spec.Operations {
		if p, why := Classify(op); p != OpNormal {
			g.policy[op.ID], g.why[op.ID] = p, why
		}
		if IsCredentialChange(op) {
			g.cred[op.ID] = true
		}
	}
	for _, x := range exclude {
		x = strings.TrimSpace(x)
		if x == "" {
			continue
		}
		found := false
		for _, op := range t.Spec.Operations {
			if op.ID == x || strings.EqualFold(op.Method+" "+op.Template, x) {
				g.policy[op.ID], g.why[op.ID] = OpExcluded, "--exclude "+x
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("--exclude %q: no operation with that operationId or \"METHOD /path\" in the spec", x)
		}
	}
	return g, nil
}

// Policy returns the guard's policy for operation id and its reason.
func (g *guard) Policy(id string) (OpPolicy, string) { return g.policy[id], g.why[id] }

// opOf returns the operation r is for: its label, else the spec's route.
func (g *guard) opOf(r *Request) string {
	if r.Op != "" || g.spec == nil {
		return r.Op
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return ""
	}
	p := u.EscapedPath()
	if g.base != "" {
		rest, ok := strings.CutPrefix(p, g.base)
		if !ok {
			return ""
		}
		p = rest
	}
	if m, err := g.spec.Match(r.Method, p); err == nil {
		return m.Operation.ID
	}
	return ""
}

// check returns nil when r may be sent, or an error wrapping ErrGuarded.
// A destructive operation's one call is used up by the first check that
// passes.
func (g *guard) check(r *Request) error {
	id := g.opOf(r)
	switch g.policy[id] {
	case OpExcluded:
		return fmt.Errorf("%s %s: %w: operation %s is excluded (%s)", r.Method, r.URL, ErrGuarded, id, g.why[id])
	case OpDestructive:
		if g.safe {
			return fmt.Errorf("%s %s: %w: operation %s is destructive (%s) and the scan is in safe mode", r.Method, r.URL, ErrGuarded, id, g.why[id])
		}
		if r.ownAccount {
			break // the cleanup deleting an account the scan registered, as that account
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.called[id] > 0 {
			return fmt.Errorf("%s %s: %w: destructive operation %s (%s) was called once already", r.Method, r.URL, ErrGuarded, id, g.why[id])
		}
		g.called[id]++
	}
	if err := g.credentials(r, id); err != nil {
		return fmt.Errorf("%s %s: %w: %v", r.Method, r.URL, ErrGuarded, err)
	}
	return nil
}

// secretField reports whether a login field holds a secret (a password,
// not the account name).
func secretField(name string) bool {
	l := strings.ToLower(name)
	for _, s := range []string{"pass", "secret", "pin", "otp", "code", "key", "token"} {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

var errCredentials = errors.New("would touch the credentials of the scan's own identity")

// credentials refuses a request that would change the stored credentials
// of one of the scan's own identities (an injection probe or a mass
// assignment writing a payload into its password or account name), which
// would break the identity for the rest of the scan and the next one: a
// request other than the identity's login whose JSON body sets one of its
// login fields to a different value while the path names that identity (its
// account name or its own harvested id), or a PUT/PATCH without path
// parameters sent as that identity ("change my password"). A credential
// change operation (IsCredentialChange: PUT /users/{username}/password)
// is refused whenever it is sent as one of the identities (an API that
// changes the caller's own record whatever the path says would change
// it), or its path or JSON body names one: GH2010 tries those on
// throwaway accounts it registers itself. Login probes with an
// identity's name and a wrong or injected password (user enumeration,
// rate limit, NoSQL login bypass) stay allowed: they change nothing
// stored.
func (g *guard) credentials(r *Request, opID string) error {
	if g.t == nil {
		return nil
	}
	var body map[string]any
	if len(r.Body) > 0 {
		d := json.NewDecoder(bytes.NewReader(r.Body))
		d.UseNumber()
		_ = d.Decode(&body)
	}
	if g.cred[opID] {
		for _, id := range g.t.Identities {
			if r.Identity == id.Name || g.pathNames(r, id) || g.bodyNames(body, id) {
				return fmt.Errorf("%w %q: %s changes credentials", errCredentials, id.Name, opID)
			}
		}
	}
	if body == nil {
		return nil
	}
	for _, id := range g.t.Identities {
		if !id.CanLogin() || opID != "" && opID == id.LoginOp {
			continue
		}
		changes := ""
		for k, v := range id.LoginFields {
			for bk, bv := range body {
				if strings.EqualFold(bk, k) && bv != v {
					changes = k
				}
			}
		}
		if changes == "" {
			continue
		}
		if g.pathNames(r, id) || (r.Identity == id.Name && (r.Method == http.MethodPut || r.Method == http.MethodPatch) && !g.hasPathParam(opID)) {
			return fmt.Errorf("%w %q: sets its login field %q", errCredentials, id.Name, changes)
		}
	}
	return nil
}

func (g *guard) hasPathParam(opID string) bool {
	if g.spec == nil {
		return false
	}
	if op := g.spec.Operation(opID); op != nil {
		return strings.Contains(op.Template, "{")
	}
	return false
}

// pathNames reports whether a path segment of r is one of id's account
// names (non-secret login values) or its own user id.
func (g *guard) pathNames(r *Request, id *Identity) bool {
	u, err := url.Parse(r.URL)
	if err != nil {
		return false
	}
	names := g.names(id)
	for _, seg := range strings.Split(u.Path, "/") {
		if names[strings.ToLower(seg)] {
			return true
		}
	}
	return false
}

// bodyNames reports whether a top-level string of body is one of id's
// account names or its own user id.
func (g *guard) bodyNames(body map[string]any, id *Identity) bool {
	if len(body) == 0 {
		return false
	}
	names := g.names(id)
	for _, v := range body {
		if s := scalar(v); s != "" && names[strings.ToLower(s)] {
			return true
		}
	}
	return false
}

// names returns id's account names (non-secret login values) and its own
// harvested user ids, lower-cased (usernames and e-mails are often matched
// without case: "ALICE" names alice).
func (g *guard) names(id *Identity) map[string]bool {
	names := map[string]bool{}
	for k, v := range id.LoginFields {
		if !secretField(k) && v != "" {
			names[strings.ToLower(v)] = true
		}
	}
	if g.t.Store != nil {
		for _, v := range g.t.Store.Owned(id.Name, "me") {
			names[strings.ToLower(v)] = true
		}
	}
	return names
}
