package dynamic_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

const weakPwSpec = `
openapi: 3.0.3
info: { title: weakpw, version: "1" }
paths:
  /register:
    post:
      operationId: register
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                username: { type: string }
                password: { type: string }
      responses:
        "200": { description: ok }
  /login:
    post:
      operationId: login
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                username: { type: string }
                password: { type: string }
      responses:
        "200": { description: ok }
`

// weakPwAPI registers accounts (message-only answer) and logs them in.
// minLen is its password policy; loginWorks=false answers 200 with a
// message but no token to every login (a registration that is not usable).
type weakPwAPI struct {
	minLen     int
	loginWorks bool
	mu         sync.Mutex
	users      map[string]string
}

func (a *weakPwAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var in struct{ Username, Password string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch r.URL.Path {
	case "/register":
		if len(in.Password) < a.minLen {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"password too short"}`))
			return
		}
		a.users[in.Username] = in.Password
		_, _ = w.Write([]byte(`{"message":"registered, please log in"}`))
	case "/login":
		if p, ok := a.users[in.Username]; ok && p == in.Password && (a.loginWorks || in.Username == "mila") {
			_, _ = w.Write([]byte(`{"token":"tok-` + in.Username + `"}`))
			return
		}
		_, _ = w.Write([]byte(`{"message":"invalid credentials"}`)) // 200 on failure
	}
}

func scanWeakPw(t *testing.T, api *weakPwAPI, safe bool) *scan.Result {
	t.Helper()
	api.users = map[string]string{"mila": "a-long-enough-secret"}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	spec, err := openapi.LoadBytes([]byte(weakPwSpec), "weakpw.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mila := scan.NewLoginIdentity("mila", "login", map[string]string{"username": "mila", "password": "a-long-enough-secret"})
	tg, err := scan.NewTarget(spec, srv.URL, []*scan.Identity{mila}, scan.NewClient(scan.ClientOptions{Budget: 100, Safe: safe}), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := scan.Run(context.Background(), tg, scan.Options{Checks: []scan.Check{dynamic.WeakPassword{}}, Safe: safe})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestWeakPassword(t *testing.T) {
	t.Run("no policy", func(t *testing.T) {
		api := &weakPwAPI{loginWorks: true}
		res := scanWeakPw(t, api, false)
		if len(res.Findings) != 1 || res.Findings[0].Operation != "register" || res.Findings[0].Param != "password" {
			t.Fatalf("findings %+v, want one on register password", res.Findings)
		}
		if f := res.Findings[0]; len(f.Evidence) != 2 || f.Curl == "" {
			t.Errorf("incomplete finding %+v", f)
		}
		if n := weakAccounts(api); n != 1 { // stops at the first accepted password
			t.Errorf("%d accounts with a weak password (%v), want 1", n, api.users)
		}
		if api.users["mila"] != "a-long-enough-secret" {
			t.Error("the scan's own identity was changed")
		}
	})
	t.Run("3 characters accepted", func(t *testing.T) {
		res := scanWeakPw(t, &weakPwAPI{minLen: 3, loginWorks: true}, false)
		if len(res.Findings) != 1 {
			t.Fatalf("findings %+v, want one", res.Findings)
		}
	})
	t.Run("length policy of 8", func(t *testing.T) {
		api := &weakPwAPI{minLen: 8, loginWorks: true}
		res := scanWeakPw(t, api, false)
		for _, f := range res.Findings {
			t.Errorf("false positive: %s", f.Detail)
		}
		if n := weakAccounts(api); n != 0 {
			t.Errorf("%d accounts with a weak password (%v), want 0", n, api.users)
		}
	})
	t.Run("registered but the login gives no token", func(t *testing.T) {
		res := scanWeakPw(t, &weakPwAPI{loginWorks: false}, false)
		for _, f := range res.Findings {
			t.Errorf("false positive (200 login without a token): %s", f.Detail)
		}
	})
	t.Run("safe mode", func(t *testing.T) {
		api := &weakPwAPI{loginWorks: true}
		res := scanWeakPw(t, api, true)
		if len(res.Findings) != 0 || weakAccounts(api) != 0 {
			t.Errorf("safe mode registered %v, findings %+v", api.users, res.Findings)
		}
	})
}

func weakAccounts(a *weakPwAPI) int {
	n := 0
	for _, p := range a.users {
		if len(p) < 8 {
			n++
		}
	}
	return n
}
