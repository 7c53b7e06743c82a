package respfilter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/jsonx"
)

// listBody4KiB is a ~4 KiB listUsers response in which every user carries an
// undeclared internal field and a password hash.
var listBody4KiB = func() []byte {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 16; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"User Number %d","email":"user%d@example.com","age":%d,"role":"member",`+
			`"tags":["a","b"],"address":{"street":"%d Main St","city":"Springfield"},`+
			`"password_hash":"$2b$12$abcdefghijklmnopqrstuv","internal_notes":"vip"}`, i, i, i, 20+i, i)
	}
	b.WriteString("]")
	return []byte(b.String())
}()

func BenchmarkFilter4KiB(b *testing.B) {
	f := newFilter(b, "testdata/users30.yaml", Options{MaskCards: true})
	out, res, err := f.Apply("listUsers", 200, listBody4KiB)
	if err != nil || res.NStripped != 16 || res.NMasked != 16 || bytes.Contains(out, []byte("password_hash")) {
		b.Fatalf("Apply = %s, %+v, %v", out, res, err)
	}
	b.SetBytes(int64(len(listBody4KiB)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := f.Apply("listUsers", 200, listBody4KiB); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBenchBody4KiB(t *testing.T) {
	if n := len(listBody4KiB); n < 3500 || n > 4700 {
		t.Fatalf("list body is %d bytes, want about 4 KiB", n)
	}
}

// FuzzFilter: whatever the upstream sends, Apply never panics; what it
// returns is valid JSON without any masked name, and an unchanged result is
// the input itself.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"name":"a","password_hash":"x","internal_notes":"y"}`,
		`[{"id":1,"PassWord":"p"},{"address":{"next":{"secret":1}}}]`,
		`{"extra":{"token":"t","nested":[{"ssn":"1"}]},"bio":"4111111111111111"}`,
		`{"id":1e400}`, `[]`, `"str"`, `{"a":{"a":{"a":{}}}}`,
		`{"pet_type":"dog","name":"Rex","bark":true,"secret_lives":9}`,
		`[{"pet_type":"cat","name":"Tom","token":"t"},{"pet_type":"ferret"}]`,
		`{"email":"a@example.com","phone":"+1","phone_carrier":"x"}`,
	} {
		f.Add(s, 200)
	}
	flt := newFilter(f, "testdata/users30.yaml", Options{MaskCards: true})
	pets := newFilter(f, "testdata/pets31.yaml", Options{MaskCards: true}) // oneOf/anyOf branch selection
	f.Fuzz(func(t *testing.T, body string, status int) {
		if status < 100 || status > 599 {
			status = 200
		}
		for _, op := range []string{"getUser", "listUsers", "nope", "getPet", "listPets", "getContact"} {
			flt := flt
			if op == "getPet" || op == "listPets" || op == "getContact" {
				flt = pets
			}
			out, res, err := flt.Apply(op, status, []byte(body))
			if err != nil {
				return
			}
			if !res.Changed && !bytes.Equal(out, []byte(body)) {
				t.Fatalf("unchanged result differs from input")
			}
			v, err := jsonx.Parse(out, jsonx.Limits{MaxDepth: 300, AnyNumber: true, MaxStringLen: 1 << 20, MaxNumberLen: 2000})
			if err != nil {
				t.Fatalf("Apply(%q) returned invalid JSON %q: %v", body, out, err)
			}
			var check func(v any)
			check = func(v any) {
				switch x := v.(type) {
				case map[string]any:
					for k, c := range x {
						if flt.mask[normName(k)] {
							t.Fatalf("Apply(%q) kept masked key %q: %s", body, k, out)
						}
						check(c)
					}
				case []any:
					for _, c := range x {
						check(c)
					}
				}
			}
			check(v)
			_ = json.Valid(out)
		}
	})
}
