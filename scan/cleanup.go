package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Created is an object the scan created (a 2xx answer to a POST sent
// through Target.Send, by the crawl or a check) and what the cleanup at the
// end of the scan did with it.
type Created struct {
	// Operation is the operationId of the POST that created it; Check the
	// check that sent it ("" for the crawl); Identity the creator ("" for
	// anonymous).
	Operation string `json:"operation"`
	Check     string `json:"check,omitempty"`
	Identity  string `json:"identity,omitempty"`
	// Path is the object's path (the DELETE's template filled in), or the
	// identifier when the spec has no DELETE on it.
	Path string `json:"path,omitempty"`
	// Delete is the operationId of the DELETE that removes it ("" when the
	// spec has none).
	Delete string `json:"delete,omitempty"`
	// Status is "deleted" (by the cleanup, as its creator), "gone" (a
	// check deleted it during the scan, or the cleanup's DELETE found it
	// gone) or "kept" (Reason says why: no DELETE operation, identifier
	// unknown, refused with the status, safe mode, budget).
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`

	url     string // the DELETE's URL; "" when it cannot be deleted
	creator *Identity
	del     *Prepared
	account *throwaway // a registered account, deleted as itself
}

// throwaway is an account the scan registered (a generated user name and
// password in the registration's body), which the cleanup deletes by
// logging in as it.
type throwaway struct {
	name, password string
	id             string // the identifier the registration answered, if any
}

// Cleanup statuses of a Created.
const (
	CleanDeleted = "deleted"
	CleanGone    = "gone"
	CleanKept    = "kept"
)

// createdLog is the Target's record of the objects the scan created.
type createdLog struct {
	mu    sync.Mutex
	items []*Created
}

// ParamNames reports whether body or response field k names the same thing
// as path parameter param: equal without case, '_' and '-' ("book_title"
// and "bookTitle"), or the parameter ends with the field ("book_title" and
// "title").
func ParamNames(param, k string) bool {
	p, f := NormField(param), NormField(k)
	return f != "" && (p == f || strings.HasSuffix(p, f) && len(f) >= 3)
}

// deleteOf returns the DELETE of one object under op's path (op's template
// plus "/{param}") and that parameter, or nil.
func (t *Target) deleteOf(op *Prepared) (*Prepared, string) {
	if t.Spec == nil {
		return nil, ""
	}
	prefix := op.Op.Template + "/{"
	for _, d := range t.Spec.Operations {
		if d.Method != http.MethodDelete || !strings.HasPrefix(d.Template, prefix) || !strings.HasSuffix(d.Template, "}") {
			continue
		}
		param := d.Template[len(prefix) : len(d.Template)-1]
		if strings.ContainsAny(param, "/{}") {
			continue
		}
		p := &Prepared{Op: d, Path: map[string]string{}, Header: http.Header{}}
		for k, v := range op.Path {
			p.Path[k] = v
		}
		return p, param
	}
	return nil, ""
}

// answerID returns the identifier of the object a create answered: the
// field naming param (when the spec has a DELETE), else "id"/"uuid".
func answerID(body []byte, param string) string {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if d.Decode(&m) != nil {
		return ""
	}
	id := ""
	for k, v := range m {
		s := scalar(v)
		if s == "" {
			continue
		}
		if param != "" && ParamNames(param, k) {
			return s
		}
		if strings.EqualFold(k, "id") || strings.EqualFold(k, "uuid") {
			id = s
		}
	}
	return id
}

// IsCreate reports whether ex answers p by creating an object: a 201, or a
// 2xx whose answer repeats a value the scan generated for p (unique per
// scan). An answer naming an object that was there before, as a
// get-or-create does, repeats none of them: checks never treat (or delete)
// such an object as their own.
func IsCreate(p *Prepared, ex *Exchange) bool {
	return ex.OK() && (ex.Status == http.StatusCreated || echoesGenerated(p.Body, ex.Body))
}

// echoesGenerated reports whether answer contains one of the generated
// string values of the sent body (top level or nested).
func echoesGenerated(sent any, answer []byte) bool {
	switch x := sent.(type) {
	case string:
		return generated(x) && bytes.Contains(answer, []byte(x))
	case map[string]any:
		for _, v := range x {
			if echoesGenerated(v, answer) {
				return true
			}
		}
	case []any:
		for _, v := range x {
			if echoesGenerated(v, answer) {
				return true
			}
		}
	}
	return false
}

// generated reports whether v is a value the scan made up (unique per
// scan), so an object named by it cannot be one that existed before.
func generated(v string) bool { return strings.HasPrefix(v, "ghscan") }

// recordCreated records the object a 2xx POST created: a 201, or a 2xx
// whose answer repeats a value the scan generated for this request (an
// answer naming an object that was there before, as a get-or-create
// does, repeats none of them). The identifier is taken from the answer
// (the field naming the DELETE's parameter, else id), or, for an answer
// that names nothing, from a sent field naming the parameter whose value
// the scan generated. An identifier already harvested for that resource
// before the POST names an object that existed: it is never recorded, so
// the cleanup cannot delete it.
func (t *Target) recordCreated(ctx context.Context, p *Prepared, id *Identity, ex *Exchange) {
	if p.Op.Method != http.MethodPost || !ex.OK() || IsLogin(p.Op) || IsLogout(p.Op) {
		return
	}
	del, param := t.deleteOf(p)
	if a := registered(p.BodyMap()); a != nil && del == nil {
		// A registration (the answer may be only a message: the account
		// is named by the generated name the scan sent).
		a.id = answerID(ex.Body, "")
		check, _ := ctx.Value(checkKey{}).(string)
		t.created.mu.Lock()
		t.created.items = append(t.created.items, &Created{Operation: p.Op.ID, Check: check, Identity: identityName(id), Path: a.name,
			Status: CleanKept, Reason: "no way to delete an account found (a DELETE on /users/{name or id}, or on /me, as the account)", account: a})
		t.created.mu.Unlock()
		return
	}
	obj := answerID(ex.Body, param)
	if obj != "" || del == nil {
		if !IsCreate(p, ex) {
			// Not a create we can tell: a search, a message, or an
			// answer naming an object that was there before.
			return
		}
		if obj == "" && ex.Status != http.StatusCreated {
			// A 200 that repeats what was sent but names no object, on
			// a path nothing can be deleted under: a render, a preview,
			// an echo. Nothing to report as left behind.
			return
		}
	} else {
		for k, v := range p.BodyMap() {
			if s, ok := v.(string); ok && ParamNames(param, k) && generated(s) {
				obj = s // a message-only answer: named by what was sent
			}
		}
		if obj == "" && ex.Status != http.StatusCreated {
			return
		}
	}
	check, _ := ctx.Value(checkKey{}).(string)
	c := &Created{Operation: p.Op.ID, Check: check, Identity: identityName(id), Path: obj, Status: CleanKept, creator: id}
	switch {
	case del == nil:
		c.Reason = "no DELETE operation on " + p.Op.Template + "/{…}"
	case obj == "":
		c.Reason = "the answer names no identifier"
	default:
		for _, ident := range t.Identities {
			for _, k := range paramKeys(del.Op.Template, param) {
				if t.Store.Seen(ident.Name, k, obj) {
					return // existed before this POST: not the scan's object
				}
			}
		}
		del.Path[param] = obj
		c.del, c.Delete = del, del.Op.ID
		c.url = t.Request(del, nil).URL
		c.Path = strings.TrimPrefix(c.url, t.Base.String())
	}
	t.created.mu.Lock()
	t.created.items = append(t.created.items, c)
	t.created.mu.Unlock()
}

// recordDeleted marks the recorded objects their creator deleted during
// the scan (GH2010's DELETE probe cleans up its throwaway objects itself)
// as gone. Another identity's DELETE proves nothing (an API may answer 2xx
// and delete nothing), so the cleanup still tries those.
func (t *Target) recordDeleted(r *Request, ex *Exchange) {
	if r.Method != http.MethodDelete || !ex.OK() {
		return
	}
	t.created.mu.Lock()
	defer t.created.mu.Unlock()
	for _, c := range t.created.items {
		if c.url == r.URL && c.Identity == r.Identity && c.Status == CleanKept {
			c.Status, c.Reason = CleanGone, fmt.Sprintf("deleted by its creator during the scan (%d)", ex.Status)
		}
	}
}

// Created returns what the scan created so far, oldest first (copies).
func (t *Target) Created() []Created {
	t.created.mu.Lock()
	defer t.created.mu.Unlock()
	out := make([]Created, 0, len(t.created.items))
	for _, c := range t.created.items {
		out = append(out, *c)
	}
	return out
}

// cleanup deletes, newest first (children before their parents), every
// recorded object still there that the spec can delete, as its creator:
// 2xx is deleted, 404/410 gone, anything else kept with the status as the
// reason. Nothing else is ever deleted. It returns the record.
func (t *Target) cleanup(ctx context.Context) []Created {
	ctx = WithCheck(ctx, "cleanup")
	t.created.mu.Lock()
	items := append([]*Created(nil), t.created.items...)
	t.created.mu.Unlock()
	for i := len(items) - 1; i >= 0; i-- {
		c := items[i]
		t.created.mu.Lock()
		pending := c.Status == CleanKept && c.del != nil
		account := c.Status == CleanKept && c.account != nil
		t.created.mu.Unlock()
		if account {
			t.deleteAccount(ctx, c)
			continue
		}
		if !pending {
			continue
		}
		if !t.Client.Allowed(http.MethodDelete) {
			c.Reason = "safe mode forbids DELETE (--allow-method DELETE cleans up)"
			continue
		}
		ex, err := t.Client.Do(ctx, t.Request(c.del, c.creator))
		t.created.mu.Lock()
		switch {
		case errors.Is(err, ErrBudget):
			c.Reason = "the request budget was spent"
		case err != nil:
			c.Reason = "DELETE failed: " + err.Error()
		case ex.OK():
			c.Status, c.Reason = CleanDeleted, ""
		case ex.Status == http.StatusNotFound || ex.Status == http.StatusGone:
			c.Status, c.Reason = CleanGone, fmt.Sprintf("the cleanup's DELETE answered %d", ex.Status)
		default:
			c.Reason = fmt.Sprintf("DELETE refused: %d", ex.Status)
		}
		t.created.mu.Unlock()
	}
	return t.Created()
}

// CleanupSummary sums up a scan's cleanup for reports: a line of counts,
// then one line per group of objects left behind (creating operation and
// reason, with how many). Nil when the scan created nothing.
func CleanupSummary(cs []Created) []string {
	if len(cs) == 0 {
		return nil
	}
	n := map[string]int{}
	type group struct{ op, reason string }
	var order []group
	kept := map[group]int{}
	for _, c := range cs {
		n[c.Status]++
		if c.Status == CleanKept {
			g := group{c.Operation, c.Reason}
			if kept[g] == 0 {
				order = append(order, g)
			}
			kept[g]++
		}
	}
	out := []string{fmt.Sprintf("cleanup: the scan created %d object%s: %d deleted at the end, %d already gone, %d left behind",
		len(cs), plural(len(cs)), n[CleanDeleted], n[CleanGone], n[CleanKept])}
	for _, g := range order {
		out = append(out, fmt.Sprintf("left behind: %d created by %s: %s", kept[g], g.op, g.reason))
	}
	return out
}

// registered returns the account a registration body created: a user
// field holding a value the scan generated and a password field (the
// fields LoginUser and LoginPassword name).
func registered(body map[string]any) *throwaway {
	var a throwaway
	for k, v := range body {
		str, ok := v.(string)
		if !ok {
			continue
		}
		switch {
		case LoginPassword(k):
			a.password = str
		case generated(str) && LoginUser(k):
			if a.name == "" || strings.Contains(strings.ToLower(k), "user") {
				a.name = str
			}
		}
	}
	if a.name == "" || a.password == "" {
		return nil
	}
	return &a
}

// accountPathRe matches the static part of an account path.
var accountPathRe = regexp.MustCompile(`(?i)(^|/)(users?|accounts?|members?|customers?|profiles?|me)(/|$)`)

// accountDeletes returns the DELETEs that can remove account a, as a,
// most specific first: one naming it in the last path segment
// (/users/{username}, /users/{id}), then one on the caller's own account
// (/me, /users/me, /account).
func (t *Target) accountDeletes(a *throwaway) []*Prepared {
	var named, self []*Prepared
	for _, d := range t.Spec.Operations {
		if d.Method != http.MethodDelete || !accountPathRe.MatchString(d.Template) {
			continue
		}
		params := pathParamRe.FindAllStringSubmatch(d.Template, -1)
		p := &Prepared{Op: d, Path: map[string]string{}, Header: http.Header{}}
		switch {
		case len(params) == 0:
			self = append(self, p)
		case len(params) == 1 && strings.HasSuffix(d.Template, params[0][0]):
			name := strings.ToLower(params[0][1])
			switch {
			case strings.HasSuffix(name, "id"): // id, userId, user_id, uid
				if a.id == "" {
					continue
				}
				p.Path[params[0][1]] = a.id
			case strings.Contains(name, "user") || strings.Contains(name, "name") || strings.Contains(name, "mail") || strings.Contains(name, "login") || strings.Contains(name, "handle"):
				p.Path[params[0][1]] = a.name
			default:
				continue
			}
			named = append(named, p)
		}
	}
	return append(named, self...)
}

// deleteAccount logs in as the throwaway account c and deletes it through
// the first DELETE that answers 2xx; anything else keeps it, with every
// answer in the reason (a 404 may mean the path wanted another
// identifier). The login goes through the operation the scan's own login
// identities use, with its field names.
func (t *Target) deleteAccount(ctx context.Context, c *Created) {
	a := c.account
	if t.Spec == nil {
		return
	}
	dels := t.accountDeletes(a)
	if len(dels) == 0 {
		return // the reason set when it was recorded stands
	}
	if !t.Client.Allowed(http.MethodDelete) {
		c.Reason = "safe mode forbids DELETE (--allow-method DELETE cleans up)"
		return
	}
	// Deleting users is often an administrator's operation: what the
	// account could not delete itself, an admin identity may.
	if spent := t.deleteAccountAsItself(ctx, c, dels); !spent && c.Status != CleanDeleted && ctx.Err() == nil {
		t.deleteAccountAsAdmin(ctx, c, dels)
	}
}

// deleteAccountAsItself logs in as account c and sends dels as it until
// one answers 2xx (c is then marked deleted); otherwise c.Reason says why
// not. It reports whether the request budget ran out.
func (t *Target) deleteAccountAsItself(ctx context.Context, c *Created, dels []*Prepared) (budgetSpent bool) {
	a := c.account
	var login *Identity
	for _, id := range t.Identities {
		if !id.CanLogin() || t.Operation(id.LoginOp) == nil {
			continue
		}
		fields := map[string]string{}
		for k, v := range id.LoginFields {
			switch {
			case LoginPassword(k):
				fields[k] = a.password
			case LoginUser(k):
				fields[k] = a.name
			default:
				fields[k] = v
			}
		}
		login = NewLoginIdentity(a.name, id.LoginOp, fields)
		login.Session = id.Session
		break
	}
	if login == nil {
		c.Reason = "no login identity to log in as the account with"
		return false
	}
	if err := t.Login(ctx, login); err != nil {
		c.Reason = "could not log in as the account to delete it: " + err.Error()
		return errors.Is(err, ErrBudget)
	}
	var refused []string
	for _, d := range dels {
		done, answer, err := t.tryAccountDelete(ctx, c, d, login)
		switch {
		case done:
			return false
		case errors.Is(err, ErrBudget):
			c.Reason = "the request budget was spent"
			return true
		}
		// A 404 proves nothing here: the path may want another identifier
		// than the one tried. Only a 2xx counts.
		refused = append(refused, d.Op.ID+": "+answer)
	}
	c.Reason = "DELETE refused as the account itself: " + strings.Join(refused, ", ")
	return false
}

// tryAccountDelete sends the account DELETE d as who. It reports whether it
// deleted account c (a 2xx; c is then marked deleted), else what was
// answered: the status, or the error.
func (t *Target) tryAccountDelete(ctx context.Context, c *Created, d *Prepared, who *Identity) (bool, string, error) {
	r := t.Request(d, who)
	r.ownAccount = generated(c.account.name)
	ex, err := t.Client.Do(ctx, r)
	switch {
	case err != nil:
		return false, err.Error(), err
	case !ex.OK():
		return false, strconv.Itoa(ex.Status), nil
	}
	t.created.mu.Lock()
	c.Status, c.Reason, c.Delete = CleanDeleted, "", d.Op.ID
	c.Path = strings.TrimPrefix(r.URL, t.Base.String())
	t.created.mu.Unlock()
	return true, "", nil
}

// deleteAccountAsAdmin tries the DELETEs that name account c
// (/users/{name or id}, never /me) as each admin identity; only a 2xx
// counts (c is then marked deleted); otherwise c.Reason gains what the
// admins got. Only accounts with a generated name are tried.
func (t *Target) deleteAccountAsAdmin(ctx context.Context, c *Created, dels []*Prepared) {
	admins := t.Admins()
	if len(admins) == 0 || !generated(c.account.name) {
		return
	}
	var got []string
	for _, admin := range admins {
		for _, d := range dels {
			if len(d.Path) == 0 {
				continue // /me-style: it would delete the admin
			}
			done, answer, err := t.tryAccountDelete(ctx, c, d, admin)
			if done {
				return
			}
			got = append(got, d.Op.ID+" as "+admin.Name+": "+answer)
			if errors.Is(err, ErrBudget) {
				c.Reason += "; the request budget was spent"
				return
			}
		}
	}
	if len(got) > 0 {
		c.Reason += "; as an admin: " + strings.Join(got, ", ")
	}
}
