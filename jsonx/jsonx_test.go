package jsonx

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name, in string
	}{
		{"object", `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`},
		{"escapes", `{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}`},
		{"utf8", `"héllo wörld 日本"`},
		{"negative zero", `-0`},
		{"float", `-12.5e-3`},
		{"max int64", `9223372036854775807`},
		{"min int64", `-9223372036854775808`},
		{"max float", `1.7976931348623157e308`},
		{"whitespace", " \t\r\n{ \"a\" : [ ] } \n"},
		{"empty containers", `{"a":{},"b":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Parse([]byte(tc.in), Limits{})
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want nil", tc.in, err)
			}
			// The result must agree with encoding/json on accepted input.
			var want any
			d := json.NewDecoder(strings.NewReader(tc.in))
			d.UseNumber()
			if err := d.Decode(&want); err != nil {
				t.Fatalf("encoding/json rejects %q: %v", tc.in, err)
			}
			g, _ := json.Marshal(v)
			w, _ := json.Marshal(want)
			if string(g) != string(w) {
				t.Errorf("Parse(%q) = %s, want %s", tc.in, g, w)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	deep := strings.Repeat("[", 33) + strings.Repeat("]", 33)
	tests := []struct {
		name, in string
		lim      Limits
		want     error
		ptr      string
	}{
		{"duplicate key", `{"role":"user","role":"admin"}`, Limits{}, ErrDuplicateKey, "/role"},
		{"unicode escaped duplicate", `{"role":"user","\u0072ole":"admin"}`, Limits{}, ErrDuplicateKey, "/role"},
		{"escaped slash duplicate", `{"a/b":1,"a\/b":2}`, Limits{}, ErrDuplicateKey, "/a~1b"},
		{"nested duplicate", `{"u":[{"x":1},{"x":1,"x":2}]}`, Limits{}, ErrDuplicateKey, "/u/1/x"},
		{"bom", "\xef\xbb\xbf{}", Limits{}, ErrBOM, ""},
		{"invalid utf8 in string", "{\"a\":\"\xff\"}", Limits{}, ErrInvalidUTF8, "/a"},
		{"invalid utf8 after escape", "\"\\n\xc3\x28\"", Limits{}, ErrInvalidUTF8, ""},
		{"overlong utf8", "\"\xc0\xaf\"", Limits{}, ErrInvalidUTF8, ""},
		{"lone high surrogate", `"\ud800"`, Limits{}, ErrInvalidUTF8, ""},
		{"lone low surrogate", `"\udc00x"`, Limits{}, ErrInvalidUTF8, ""},
		{"bad pair", `"\ud800\u0041"`, Limits{}, ErrInvalidUTF8, ""},
		{"depth", deep, Limits{}, ErrDepth, ""},
		{"depth objects", strings.Repeat(`{"a":`, 5) + "1" + strings.Repeat("}", 5), Limits{MaxDepth: 4}, ErrDepth, "/a/a/a/a"},
		{"1e309", `{"n":1e309}`, Limits{}, ErrNumber, "/n"},
		{"-1e309", `-1e309`, Limits{}, ErrNumber, ""},
		{"huge integer", `{"id":123456789012345678901234567890}`, Limits{}, ErrNumber, "/id"},
		{"int64 overflow", `9223372036854775808`, Limits{}, ErrNumber, ""},
		{"long number", `1.` + strings.Repeat("1", 60), Limits{}, ErrNumber, ""},
		{"string length", `"` + strings.Repeat("a", 11) + `"`, Limits{MaxStringLen: 10}, ErrStringLength, ""},
		{"escaped string length", `"` + strings.Repeat(`\u0061`, 11) + `"`, Limits{MaxStringLen: 10}, ErrStringLength, ""},
		{"key length", `{"` + strings.Repeat("k", 11) + `":1}`, Limits{MaxStringLen: 10}, ErrStringLength, ""},
		{"array length", `[1,2,3,4]`, Limits{MaxArrayLen: 3}, ErrArrayLength, ""},
		{"object keys", `{"a":1,"b":2,"c":3}`, Limits{MaxKeys: 2}, ErrObjectSize, ""},
		{"trailing data", `{} {}`, Limits{}, ErrSyntax, ""},
		{"trailing comma", `[1,]`, Limits{}, ErrSyntax, ""},
		{"leading zero", `01`, Limits{}, ErrSyntax, ""},
		{"plus sign", `+1`, Limits{}, ErrSyntax, ""},
		{"nan", `NaN`, Limits{}, ErrSyntax, ""},
		{"single quotes", `{'a':1}`, Limits{}, ErrSyntax, ""},
		{"control char", "\"a\x01\"", Limits{}, ErrSyntax, ""},
		{"comment", `{"a":1 /* x */}`, Limits{}, ErrSyntax, ""},
		{"empty", ``, Limits{}, ErrSyntax, ""},
		{"bad escape", `"\x41"`, Limits{}, ErrSyntax, ""},
		{"truncated", `{"a":"b`, Limits{}, ErrSyntax, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in), tc.lim)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%q) = %v, want %v", tc.in, err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%q) error %T is not *Error", tc.in, err)
			}
			if tc.ptr != "" && e.Pointer != tc.ptr {
				t.Errorf("Parse(%q) pointer = %q, want %q", tc.in, e.Pointer, tc.ptr)
			}
		})
	}
}

func TestPointer(t *testing.T) {
	if got := Pointer("a/b", "c~d", "0"); got != "/a~1b/c~0d/0" {
		t.Errorf("Pointer = %q", got)
	}
}

// FuzzStrictJSON checks that Parse never panics, that whatever it accepts
// encoding/json accepts too with the same meaning, and that it never accepts
// a document with a duplicate key, invalid UTF-8 or a BOM.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"role":"x","\u0072ole":"y"}`, `[1e309]`, "\xef\xbb\xbf{}",
		`"\ud83d\ude00"`, `{"a":[{"b":null}]}`, `-0`, `123456789012345678901`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data, Limits{MaxDepth: 16})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error", err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("Parse accepted %q, encoding/json rejects it", data)
		}
		var want any
		d := json.NewDecoder(strings.NewReader(string(data)))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatalf("decode: %v", err)
		}
		g, _ := json.Marshal(v)
		w, _ := json.Marshal(want)
		if string(g) != string(w) {
			t.Fatalf("Parse(%q) = %s, encoding/json = %s", data, g, w)
		}
	})
}

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in      string
		isInt   bool
		wantErr error
	}{
		{"0", true, nil},
		{"-0", true, nil},
		{"42", true, nil},
		{"-12.5e-3", false, nil},
		{"1e3", false, nil}, // a number, not an integer literal
		{"9223372036854775807", true, nil},
		{"9223372036854775808", false, ErrNumber},
		{"1e309", false, ErrNumber},
		{"", false, ErrSyntax},
		{"+5", false, ErrSyntax},
		{"007", false, ErrSyntax},
		{"0x10", false, ErrSyntax},
		{"1_000", false, ErrSyntax},
		{"inf", false, ErrSyntax},
		{"NaN", false, ErrSyntax},
		{"1.", false, ErrSyntax},
		{".5", false, ErrSyntax},
		{"1e", false, ErrSyntax},
		{"1 ", false, ErrSyntax},
		{"-", false, ErrSyntax},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			n, isInt, err := ParseNumber(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ParseNumber(%q) = %v, want %v", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil || string(n) != tc.in || isInt != tc.isInt {
				t.Fatalf("ParseNumber(%q) = %q, %v, %v; want %q, %v, nil", tc.in, n, isInt, err, tc.in, tc.isInt)
			}
		})
	}
}
