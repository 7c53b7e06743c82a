package dynamic

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// bolaDeletes is BOLA on DELETE, on throwaway objects only: for each
// DELETE of one object (a path ending in a parameter) with a create
// operation (POST on the parent path) and a read (GET on the same path),
// identity A creates a fresh object, reads it (it exists), an anonymous
// DELETE and then B's DELETE are sent, and A reads it again. Gone for A
// after B's DELETE is the finding; an object still there is deleted by A
// afterwards, so the scan leaves nothing behind. Objects the scan did not
// create are never deleted. Not in safe mode (DELETE is not allowed).
func bolaDeletes(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	if !t.Client.Allowed(http.MethodDelete) || !t.Client.Allowed(http.MethodPost) {
		return nil
	}
	for _, del := range ops(t, func(op *openapi.Operation) bool {
		return op.Method == http.MethodDelete && strings.HasSuffix(op.Template, "}") && !scan.LooksAdmin(op)
	}) {
		create, read := createAndRead(t, del)
		if create == nil || read == nil {
			continue
		}
		params := pathParams(del.Template)
		param := params[0] // the object's own parameter
		users := t.Users()
		if len(users) < 2 {
			continue
		}
		a, b := users[0], users[1]
		f, err := bolaDelete(ctx, t, del, create, read, param, a, b)
		if err != nil {
			return err
		}
		if f != nil {
			report(*f)
		}
	}
	return nil
}

// createAndRead returns the POST on del's parent path and the GET on del's
// path, nil when the spec lacks either.
func createAndRead(t *scan.Target, del *openapi.Operation) (create, read *openapi.Operation) {
	parent := del.Template[:strings.LastIndexByte(del.Template, '/')]
	for _, o := range t.Spec.Operations {
		switch {
		case o.Method == http.MethodPost && o.Template == parent:
			create = o
		case o.Method == http.MethodGet && o.Template == del.Template:
			read = o
		}
	}
	return create, read
}

func bolaDelete(ctx context.Context, t *scan.Target, del, create, read *openapi.Operation, param string, a, b *scan.Identity) (*scan.Finding, error) {
	// A creates a throwaway object with fresh identifying values.
	cp := t.Prepare(create, a)
	body := cp.BodyMap()
	if body == nil {
		return nil, nil
	}
	var rnd [5]byte
	_, _ = rand.Read(rnd[:])
	tag := "ghscan-del-" + hex.EncodeToString(rnd[:])
	idField := ""
	for k, v := range body {
		if _, ok := v.(string); !ok || scan.SecretName(k) {
			continue
		}
		if scan.ParamNames(param, k) {
			body[k], idField = tag, k
		} else if markerRank(k) == 3 { // names, titles, slugs: unique too
			body[k] = tag + "-" + strings.ToLower(k)
		}
	}
	exC, err := t.Send(ctx, cp, a)
	if err != nil || !exC.OK() {
		return nil, stopErr(ctx, err)
	}
	obj := ""
	if m := jsonObject(exC.Body); m != nil {
		for k, v := range m {
			if s := fmt.Sprint(v); v != nil && (strings.EqualFold(k, "id") || scan.ParamNames(param, k)) && s != "" {
				obj = s
				if scan.ParamNames(param, k) {
					break
				}
			}
		}
	}
	if obj != "" && !scan.IsCreate(cp, exC) {
		return nil, nil // an object that was there before (get-or-create): not ours to delete
	}
	if obj == "" && idField != "" {
		obj = tag // a message-only answer: the object is named by what was sent
	}
	if obj == "" {
		return nil, nil
	}
	at := func(op *openapi.Operation, id *scan.Identity) *scan.Prepared {
		p := t.Prepare(op, id)
		p.Path[param] = obj
		return p
	}
	before, err := t.Send(ctx, at(read, a), a)
	if err != nil || !granted(before) {
		return nil, stopErr(ctx, err) // not readable by its creator: nothing to confirm against
	}
	cleanup := func() error {
		_, err := t.Send(ctx, at(del, a), a)
		return stopErr(ctx, err)
	}
	anon, err := t.Send(ctx, at(del, nil), nil)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	if granted(anon) {
		return nil, cleanup() // anonymous deletes: GH2001's business, not BOLA
	}
	exB, err := t.Send(ctx, at(del, b), b)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	after, err := t.Send(ctx, at(read, a), a)
	if err != nil {
		return nil, stopErr(ctx, err)
	}
	gone := after.Status == http.StatusNotFound || after.Status == http.StatusGone
	if !exB.OK() || !gone {
		return nil, cleanup()
	}
	f := scan.Finding{Param: param,
		Detail: fmt.Sprintf("Identity %s deleted the object %s=%s that identity %s had just created: %s %s answered %d, and %s's own read (%s %s) answered %d before and %d after; anonymous DELETE answered %d.",
			b.Name, param, obj, a.Name, del.Method, del.Template, exB.Status, a.Name, read.Method, read.Template, before.Status, after.Status, anon.Status),
		Fix: bolaFix(del, param),
	}.At(del).With(exB, "identity "+b.Name+" deletes "+a.Name+"'s object").With(after, "the owner's read afterwards").With(before, "the owner's read before")
	return &f, nil
}
