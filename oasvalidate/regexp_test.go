package oasvalidate

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/openapi"
)

const patternsDoc = "testdata/patterns/patterns.yaml"

// TestPatternDialect: ECMA-262 patterns that RE2 refuses (\uXXXX, a repeat
// count above 1000, look-ahead) load and are enforced through request
// validation; RE2-compatible ones keep their ECMA meaning ('.' refuses CR
// and U+2028, \s accepts U+00A0); a pattern no engine compiles skips that
// one constraint only.
func TestPatternDialect(t *testing.T) {
	v := newValidator(t, patternsDoc, Options{})
	body := func(k, val string) string { return `{"` + k + `":"` + val + `"}` }
	post := func(name, op, k, val, want string) reqCase {
		return reqCase{name: name, op: op, method: "POST", target: "/" + op, ct: jsonCT, body: body(k, val), want: want}
	}
	runCases(t, v, []reqCase{
		post("dot matches a letter", "ascii", "line", "abc", ""),
		post("dot refuses CR", "ascii", "line", `a\rb`, "schema"),
		post("dot refuses U+2028", "ascii", "line", `a\u2028b`, "schema"),
		post("\\s space", "ascii", "gap", "a b", ""),
		post("\\s U+00A0", "ascii", "gap", `a\u00a0b`, ""),
		post("\\s U+FEFF", "ascii", "gap", `a\ufeffb`, ""),
		post("\\s not a letter", "ascii", "gap", "axb", "schema"),
		post("\\u escape matches", "unicode", "name", "ééé", ""),
		post("\\u escape refuses", "unicode", "name", "eee", "schema"),
		post("{1001} exact", "repeat", "code", strings.Repeat("7", 1001), ""),
		post("{1001} one short", "repeat", "code", strings.Repeat("7", 1000), "schema"),
		post("{1001} not digits", "repeat", "code", strings.Repeat("7", 1000)+"x", "schema"),
		post("lookahead both", "lookahead", "password", "abcdefg1", ""),
		post("lookahead no digit", "lookahead", "password", "abcdefgh", "schema"),
		post("lookahead too short", "lookahead", "password", "abc1", "schema"),
		post("uncompilable skipped", "broken", "any", "(((", ""),
		post("sibling still enforced", "broken", "kept", "ABC", "schema"),
		post("sibling passes", "broken", "kept", "abc", ""),
	})
}

// TestPatternSkippedWarning: the uncompilable pattern is reported once,
// located at the schema that carries it (file:line:col).
func TestPatternSkippedWarning(t *testing.T) {
	s, err := openapi.Load(patternsDoc) // from the file: warnings name it
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(openapi.Model(s), fromSpec(s), Options{}); err != nil {
		t.Fatalf("New: %v", err)
	}
	src, err := os.ReadFile(patternsDoc)
	if err != nil {
		t.Fatal(err)
	}
	line, col := 0, 0
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, "any: {type: string, pattern: '([a-z]'}") {
			line, col = i+1, strings.Index(l, "{")+1
		}
	}
	skipped := SchemasFor(openapi.Model(s)).SkippedPatterns()
	if len(skipped) != 1 {
		t.Fatalf("SkippedPatterns = %q, want one", skipped)
	}
	want := "patterns.yaml:" + strconv.Itoa(line) + ":" + strconv.Itoa(col) + ": pattern skipped"
	if !strings.Contains(skipped[0], want) || !strings.Contains(skipped[0], `"([a-z]"`) {
		t.Errorf("SkippedPatterns[0] = %q, want it to contain %q and the pattern", skipped[0], want)
	}
	found := false
	for _, w := range SchemasFor(openapi.Model(s)).Warnings() {
		found = found || w == skipped[0]
	}
	if !found {
		t.Error("the skipped pattern is not among Warnings (gatehouse validate prints those)")
	}
}

// TestPatternEngineChoice: RE2 only where both dialects agree.
func TestPatternEngineChoice(t *testing.T) {
	for _, tc := range []struct {
		p   string
		re2 bool
	}{
		{`^[a-z0-9_-]{1,64}$`, true},
		{`^.+@.+\..+$`, true},
		{`^\d{3}-\d{4}$`, true},
		{`^a\sb$`, true},
		{`(?:ab)+`, true},
		{`^\u00e9$`, false},
		{`^a{1001}$`, false},
		{`^(?=a)a$`, false},
		{`^(?<!a)b$`, false},
		{`^(a)\1$`, false},
		{`[^]`, false},
		{`[[:alpha:]]`, false},
		{`\Aabc\z`, false},
		{`(?i)abc`, false},
		{`\p{L}`, false},
		{`[\b]`, false},
		{`a{,3}`, false},
	} {
		re, err := CompilePattern(tc.p)
		if err != nil {
			t.Errorf("CompilePattern(%q): %v", tc.p, err)
			continue
		}
		if _, isRE2 := re.(re2Regexp); isRE2 != tc.re2 {
			t.Errorf("CompilePattern(%q): RE2 = %v, want %v", tc.p, isRE2, tc.re2)
		}
		if re.String() != tc.p {
			t.Errorf("CompilePattern(%q).String() = %q", tc.p, re.String())
		}
	}
	for _, p := range []string{`([a-z]`, `a**`, `\`} {
		if _, err := CompilePattern(p); !errors.Is(err, ErrBadPattern) {
			t.Errorf("CompilePattern(%q) = %v, want ErrBadPattern", p, err)
		}
	}
}

// TestPatternReDoS (attacker): a catastrophic pattern that only the
// backtracking engine accepts is cut at PatternTimeout; the request is
// refused with 400 (a timeout never passes), concurrent attacks do not
// stop the validator from serving, and the same pattern without
// look-ahead runs on RE2 and refuses the input without any timeout.
func TestPatternReDoS(t *testing.T) {
	v := newValidator(t, patternsDoc, Options{})
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := v.Middleware(next)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := &gatehouse.Route{OperationID: "redos", Method: r.Method}
		h.ServeHTTP(w, r.WithContext(gatehouse.WithRoute(r.Context(), rt)))
	}))
	defer srv.Close()
	send := func(k, val string) int {
		res, err := http.Post(srv.URL+"/redos", jsonCT, strings.NewReader(`{"`+k+`":"`+val+`"}`))
		if err != nil {
			t.Error(err)
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	evil := strings.Repeat("a", 40) + "!"
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = send("evil", evil) }()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusBadRequest {
			t.Errorf("attack %d: status %d, want 400", i, c)
		}
	}
	if c := send("evil", "aaaa"); c != http.StatusNoContent {
		t.Errorf("valid value after the attacks: status %d, want 204", c)
	}
	if c := send("plain", evil); c != http.StatusBadRequest {
		t.Errorf("RE2 pattern on the attack string: status %d, want 400", c)
	}

	err := v.Check(request(reqCase{op: "redos", method: "POST", target: "/redos", ct: jsonCT, body: `{"evil":"` + evil + `"}`}))
	var ve *Error
	if !errors.As(err, &ve) || ve.Kind != KindSchema || !errors.Is(ve.Err, errPatternTimeout) {
		t.Fatalf("Check(evil) = %v, want a schema error from the pattern timeout", err)
	}
	err = v.Check(request(reqCase{op: "redos", method: "POST", target: "/redos", ct: jsonCT, body: `{"plain":"` + evil + `"}`}))
	if !errors.As(err, &ve) || errors.Is(ve.Err, errPatternTimeout) {
		t.Fatalf("Check(plain) = %v, want a plain schema error (RE2, no timeout)", err)
	}
}
