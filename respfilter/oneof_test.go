package respfilter

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse"
)

// TestApplyOneOfSelection: a oneOf/anyOf response keeps the properties of the
// branch the value belongs to, not the union of all branches.
func TestApplyOneOfSelection(t *testing.T) {
	f30 := newFilter(t, "testdata/pets30.yaml", Options{})
	f31 := newFilter(t, "testdata/pets31.yaml", Options{})
	tests := []struct {
		name      string
		f         *Filter
		op        string
		in, want  string
		fallbacks int
	}{
		// 3.0, discriminator with mapping.
		{"3.0 mapping: dog loses cat-only field", f30, "getPet",
			`{"pet_type":"doggo","name":"Rex","bark":true,"secret_lives":9}`, `{"pet_type":"doggo","name":"Rex","bark":true}`, 0},
		{"3.0 mapping: cat keeps its fields", f30, "getPet",
			`{"pet_type":"kitty","name":"Tom","secret_lives":9,"bark":false,"owner":{"name":"a","ssn_hint":"x"}}`,
			`{"pet_type":"kitty","name":"Tom","secret_lives":9,"owner":{"name":"a"}}`, 0},
		{"3.0 discriminator by schema name", f30, "listPets",
			`{"items":[{"pet_type":"Dog","name":"Rex","secret_lives":9},{"pet_type":"Cat","name":"Tom","bark":true,"secret_lives":1}]}`,
			`{"items":[{"pet_type":"Dog","name":"Rex"},{"pet_type":"Cat","name":"Tom","secret_lives":1}]}`, 0},
		{"3.0 unknown discriminator value falls back to the union", f30, "getPet",
			`{"pet_type":"ferret","name":"F","bark":true,"secret_lives":9,"debug":1}`,
			`{"pet_type":"ferret","name":"F","bark":true,"secret_lives":9}`, 1},
		{"3.0 discriminator value not a string falls back", f30, "getPet",
			`{"pet_type":7,"name":"F","secret_lives":9,"debug":1}`, `{"pet_type":7,"name":"F","secret_lives":9}`, 1},

		// 3.1, no discriminator: the branch the value validates against.
		{"3.1 oneOf: dog loses cat-only field", f31, "getPet",
			`{"pet_type":"dog","name":"Rex","bark":true,"secret_lives":9}`, `{"pet_type":"dog","name":"Rex","bark":true}`, 0},
		{"3.1 oneOf: cat loses dog-only field", f31, "getPet",
			`{"pet_type":"cat","name":"Tom","bark":true,"secret_lives":9}`, `{"pet_type":"cat","name":"Tom","secret_lives":9}`, 0},
		{"3.1 oneOf nested in arrays, per element", f31, "listPets",
			`[{"pet_type":"dog","name":"Rex","secret_lives":9},{"pet_type":"cat","name":"Tom","bark":true,"secret_lives":2}]`,
			`[{"pet_type":"dog","name":"Rex"},{"pet_type":"cat","name":"Tom","secret_lives":2}]`, 0},
		{"3.1 no branch matches: union", f31, "getPet",
			`{"pet_type":"ferret","name":"F","bark":true,"secret_lives":9,"debug":1}`,
			`{"pet_type":"ferret","name":"F","bark":true,"secret_lives":9}`, 1},
		{"3.1 anyOf: union of matching branches", f31, "getContact",
			`{"email":"a@example.com","email_verified":true,"phone":"+1 555","phone_carrier":"x","internal":1}`,
			`{"email":"a@example.com","email_verified":true,"phone":"+1 555","phone_carrier":"x"}`, 0},
		{"3.1 anyOf: only the matching branch", f31, "getContact",
			`{"email":"a@example.com","email_verified":true,"phone":"not a phone!","phone_carrier":"x"}`,
			`{"email":"a@example.com","email_verified":true}`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, res, err := tc.f.Apply(tc.op, 200, []byte(tc.in))
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if got, want := canonBytes(out), canonBytes([]byte(tc.want)); got != want {
				t.Errorf("Apply(%s) = %s, want %s", tc.in, got, want)
			}
			if res.Fallbacks != tc.fallbacks {
				t.Errorf("Apply(%s) fallbacks = %d, want %d", tc.in, res.Fallbacks, tc.fallbacks)
			}
		})
	}
}

// TestOneOfFallbackLogged: through the middleware, a value no branch matches
// is filtered against the union, logged and counted.
func TestOneOfFallbackLogged(t *testing.T) {
	var logs bytes.Buffer
	var actions []string
	f := newFilter(t, "testdata/pets31.yaml", Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)),
		Observe: func(op, action string) { actions = append(actions, action) }})
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"pet_type":"ferret","name":"F","secret_lives":9,"debug":1}`)
	})
	r := httptest.NewRequest("GET", "/pets/1", nil)
	r = r.WithContext(gatehouse.WithRoute(r.Context(), &gatehouse.Route{OperationID: "getPet", Method: "GET"}))
	rec := httptest.NewRecorder()
	f.Middleware(up).ServeHTTP(rec, r)
	var got map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	if _, ok := got["debug"]; ok || got["secret_lives"] == nil {
		t.Errorf("body = %s, want debug stripped and the union kept", rec.Body.String())
	}
	if !strings.Contains(logs.String(), "no anyOf/oneOf branch") {
		t.Errorf("log = %s, want a branch fallback line", logs.String())
	}
	if !strings.Contains(strings.Join(actions, ","), "branch_fallback") {
		t.Errorf("actions = %v, want branch_fallback", actions)
	}
}

// petList is a ~4 KiB list of 3.1 oneOf pets, each with a field of the other branch.
func petList(disc bool) []byte {
	var b strings.Builder
	if disc {
		b.WriteString(`{"items":`)
	}
	b.WriteString("[")
	for i := 0; i < 32; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		typ := []string{"cat", "dog"}[i%2]
		if disc {
			typ = []string{"Cat", "Dog"}[i%2]
		}
		b.WriteString(`{"pet_type":"` + typ + `","name":"Pet number ` + strings.Repeat("x", 40) + `","bark":true,"secret_lives":9,"internal_notes":"vip"}`)
	}
	b.WriteString("]")
	if disc {
		b.WriteString("}")
	}
	return []byte(b.String())
}

func benchPets(b *testing.B, file string, body []byte) {
	f := newFilter(b, file, Options{})
	if _, res, err := f.Apply("listPets", 200, body); err != nil || res.NStripped != 64 || res.Fallbacks != 0 {
		b.Fatalf("Apply = %+v, %v", res, err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := f.Apply("listPets", 200, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFilterOneOfValidate: 32 oneOf elements, branch chosen by validation (3.1).
func BenchmarkFilterOneOfValidate(b *testing.B) { benchPets(b, "testdata/pets31.yaml", petList(false)) }

// BenchmarkFilterOneOfDiscriminator: 32 oneOf elements, branch chosen by discriminator (3.0).
func BenchmarkFilterOneOfDiscriminator(b *testing.B) {
	benchPets(b, "testdata/pets30.yaml", petList(true))
}
