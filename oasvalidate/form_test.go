package oasvalidate

import (
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/inspect"
)

const formCT = "application/x-www-form-urlencoded"

// mp builds a multipart body with boundary "B0undary" from raw parts
// (headers, blank line, content).
func mp(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString("--B0undary\r\n")
		b.WriteString(p)
		b.WriteString("\r\n")
	}
	b.WriteString("--B0undary--\r\n")
	return b.String()
}

// field is a multipart text part.
func field(name, value string) string {
	return "Content-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value
}

// file is a multipart file part.
func file(name, filename, ct, content string) string {
	h := "Content-Disposition: form-data; name=\"" + name + "\"; filename=\"" + filename + "\"\r\n"
	if ct != "" {
		h += "Content-Type: " + ct + "\r\n"
	}
	return h + "\r\n" + content
}

const mpCT = "multipart/form-data; boundary=B0undary"

func TestFormURLEncoded(t *testing.T) {
	v := newValidator(t, "testdata/forms30.yaml", Options{RejectUnknown: true, Injection: inspect.Default, MaxBody: 4096})
	post := func(name, body, want, field string) reqCase {
		return reqCase{name: name, op: "signup", method: "POST", target: "/signup", ct: formCT, body: body, want: want, field: field}
	}
	cases := []reqCase{
		post("ok minimal", "username=ann", "", ""),
		post("ok typed fields", "username=ann&age=30&newsletter=true&plan=pro&code=1234&bio=It%27s+me", "", ""),
		post("ok exploded array", "username=ann&tags=a&tags=b", "", ""),
		post("ok explode false array", "username=ann&ids=1,2,3", "", ""),
		post("ok pipe delimited", "username=ann&pipes=a|b", "", ""),
		post("ok deepObject", "username=ann&filter%5Bcolor%5D=red&filter[size]=3", "", ""),
		post("ok json object field", "username=ann&meta=%7B%22a%22%3A%22x%22%7D", "", ""),
		post("ok empty pairs skipped", "username=ann&&age=1&", "", ""),
		{name: "ok charset utf-8", op: "signup", method: "POST", target: "/signup", ct: formCT + "; charset=UTF-8", body: "username=ann"},
		{name: "ok declared query param beside form", op: "signup", method: "POST", target: "/signup?q=x", ct: formCT, body: "username=ann"},

		// Schema.
		post("required missing", "age=3", "schema", "/username"),
		post("integer not a number", "username=ann&age=ten", "schema", "/age"),
		post("integer as float", "username=ann&age=1.5", "schema", "/age"),
		post("integer exponent", "username=ann&age=1e3", "schema", "/age"),
		post("integer leading plus", "username=ann&age=%2B5", "schema", "/age"),
		post("minimum", "username=ann&age=-1", "schema", "/age"),
		post("boolean", "username=ann&newsletter=yes", "schema", "/newsletter"),
		post("enum", "username=ann&plan=enterprise", "schema", "/plan"),
		post("pattern", "username=ann&code=12a4", "schema", "/code"),
		post("maxLength", "username="+strings.Repeat("a", 21), "schema", "/username"),
		post("maxItems", "username=ann&tags=a&tags=b&tags=c&tags=d", "schema", "/tags"),
		post("array item type", "username=ann&ids=1,x", "schema", "/ids/1"),
		post("deepObject unknown key", "username=ann&filter[owner]=me", "unknown_property", "/filter/owner"),
		post("deepObject item type", "username=ann&filter[size]=big", "schema", "/filter/size"),
		post("json object field not strict", `username=ann&meta={"a":"x","a":"y"}`, "body_syntax", "/meta"),

		// Mass assignment and duplicates.
		post("undeclared field", "username=ann&role=admin", "unknown_property", "/role"),
		post("duplicate scalar", "username=ann&username=root", "body_syntax", "/username"),
		post("duplicate undeclared", "username=ann&x=1&x=2", "body_syntax", "/x"),
		post("duplicate explode false array", "username=ann&ids=1&ids=2", "body_syntax", "/ids"),
		post("duplicate deepObject key", "username=ann&filter[color]=red&filter[color]=blue", "body_syntax", "/filter[color]"),
		post("deepObject and plain name", "username=ann&filter[color]=red&filter=x", "body_syntax", "/filter"),
		post("percent-encoded duplicate name", "username=ann&%75sername=root", "body_syntax", "/username"),
		post("semicolon separator", "username=ann;role=admin", "body_syntax", ""),
		post("bad escape", "username=%zz", "body_syntax", ""),
		post("invalid utf-8 after decoding", "username=%ff%fe", "body_syntax", ""),
		post("empty name", "=x&username=ann", "body_syntax", ""),

		// Smuggling via the query string.
		{name: "body field repeated in query", op: "signup", method: "POST", target: "/signup?username=root", ct: formCT,
			body: "username=ann", want: "parameter", field: "username"},
		{name: "form field in query of a bodiless request", op: "strictForm", method: "POST", target: "/strict?name=admin",
			want: "parameter", field: "name"},
		{name: "declared body field only in query", op: "signup", method: "POST", target: "/signup?plan=pro", ct: formCT,
			body: "username=ann", want: "parameter", field: "plan"},
		{name: "deepObject field in query", op: "signup", method: "POST", target: "/signup?filter%5Bcolor%5D=red", ct: formCT,
			body: "username=ann", want: "parameter", field: "filter[color]"},

		// Injection.
		post("sqli in free string", "username=ann&bio=1%27+OR+%271%27%3D%271", "injection_sqli", "/bio"),
		post("xss in free string", "username=ann&bio=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "injection_xss", "/bio"),
		post("nosql operator field name", "username=ann&password%5B%24ne%5D=x", "injection_nosql", "/password[$ne]"),
		post("sqli in array item", "username=ann&tags=ok&tags=1%27+or+%271%27%3D%271", "injection_sqli", "/tags/1"),

		// Content type.
		{name: "charset utf-7", op: "signup", method: "POST", target: "/signup", ct: formCT + "; charset=utf-7",
			body: "username=%2BADw-script%2BAD4-", want: "content_type"},
		{name: "charset latin1", op: "signup", method: "POST", target: "/signup", ct: formCT + "; charset=iso-8859-1",
			body: "username=ann", want: "content_type"},
		{name: "json to form op", op: "signup", method: "POST", target: "/signup", ct: jsonCT,
			body: `{"username":"ann"}`, want: "content_type"},
		{name: "multipart to urlencoded op", op: "signup", method: "POST", target: "/signup", ct: mpCT,
			body: mp(field("username", "ann")), want: "content_type"},
		{name: "form to json op", op: "jsonOnly", method: "POST", target: "/json", ct: formCT,
			body: "name=ann", want: "content_type"},
		{name: "multipart to json op", op: "jsonOnly", method: "POST", target: "/json", ct: mpCT,
			body: mp(field("name", "ann")), want: "content_type"},
		{name: "additionalProperties false without reject_unknown", op: "strictForm", method: "POST", target: "/strict", ct: formCT,
			body: "name=a&admin=1", want: "unknown_property", field: "/admin"},
		post("oversize body", "username=ann&bio="+strings.Repeat("a", 5000), "body_size", ""),
	}
	runCases(t, v, cases)
}

func TestFormRejectUnknownOff(t *testing.T) {
	v := newValidator(t, "testdata/forms30.yaml", Options{})
	runCases(t, v, []reqCase{
		{name: "open schema accepts undeclared", op: "signup", method: "POST", target: "/signup", ct: formCT, body: "username=ann&role=x"},
		{name: "duplicates still rejected", op: "signup", method: "POST", target: "/signup", ct: formCT, body: "username=ann&username=b", want: "body_syntax"},
		{name: "no injection checks", op: "signup", method: "POST", target: "/signup", ct: formCT, body: "username=ann&bio=1%27+OR+%271%27%3D%271"},
	})
}

func TestMultipart(t *testing.T) {
	v := newValidator(t, "testdata/forms30.yaml", Options{RejectUnknown: true, Injection: inspect.Default, MaxBody: 8192,
		MaxParts: 8, MaxPartSize: 1024})
	up := func(name, body, want, field string) reqCase {
		return reqCase{name: name, op: "upload", method: "POST", target: "/upload", ct: mpCT, body: body, want: want, field: field}
	}
	png := "\x89PNG\r\n\x1a\n\x00\x00' OR '1'='1 <script>"
	cases := []reqCase{
		up("ok", mp(field("title", "Holiday"), file("file", "a.bin", "application/octet-stream", "\x00\x01\xff' OR 1=1--")), "", ""),
		up("ok binary not inspected", mp(field("title", "x"), file("file", "a.txt", "", "<script>alert(1)</script>"),
			file("avatar", "a.png", "image/png", png)), "", ""),
		up("ok repeated array parts", mp(field("title", "x"), file("file", "f", "", "x"), field("tags", "a"), field("tags", "b")), "", ""),
		up("ok json part", mp(field("title", "x"), file("file", "f", "", "x"),
			"Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":\"b\"}"), "", ""),
		up("ok typed integer", mp(field("title", "x"), file("file", "f", "", "x"), field("count", "3")), "", ""),
		{name: "ok quoted boundary", op: "upload", method: "POST", target: "/upload", ct: `multipart/form-data; boundary="B0undary"`,
			body: mp(field("title", "x"), file("file", "f", "", "x"))},

		// Schema.
		up("required file missing", mp(field("title", "x")), "schema", "/file"),
		up("integer part", mp(field("title", "x"), file("file", "f", "", "x"), field("count", "11")), "schema", "/count"),
		up("maxLength part", mp(field("title", strings.Repeat("x", 51)), file("file", "f", "", "x")), "schema", "/title"),
		up("undeclared part", mp(field("title", "x"), file("file", "f", "", "x"), field("role", "admin")), "unknown_property", "/role"),
		up("json part undeclared key", mp(field("title", "x"), file("file", "f", "", "x"),
			"Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":\"b\",\"admin\":true}"), "unknown_property", "/meta/admin"),
		up("json part duplicate key", mp(field("title", "x"), file("file", "f", "", "x"),
			"Content-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{\"a\":\"b\",\"a\":\"c\"}"), "body_syntax", "/meta"),

		// Duplicates, injection.
		up("duplicate scalar part", mp(field("title", "x"), field("title", "y"), file("file", "f", "", "x")), "body_syntax", "/title"),
		up("duplicate file part", mp(field("title", "x"), file("file", "f", "", "x"), file("file", "g", "", "y")), "body_syntax", "/file"),
		up("sqli in text part", mp(field("title", "x"), file("file", "f", "", "x"), field("note", "1' OR '1'='1")), "injection_sqli", "/note"),
		up("undeclared file part is checked as unknown", mp(field("title", "x"), file("file", "f", "", "x"), file("shell", "x.php", "", "<?php")), "unknown_property", "/shell"),

		// Per-part content type (encoding.contentType).
		up("avatar wrong type", mp(field("title", "x"), file("file", "f", "", "x"), file("avatar", "a.svg", "image/svg+xml", "<svg onload=alert(1)>")), "content_type", "/avatar"),
		up("avatar without type", mp(field("title", "x"), file("file", "f", "", "x"), file("avatar", "a.png", "", png)), "content_type", "/avatar"),
		up("json part as text", mp(field("title", "x"), file("file", "f", "", "x"), field("meta", `{"a":"b"}`)), "content_type", "/meta"),
		up("text part charset utf-7", mp("Content-Disposition: form-data; name=\"title\"\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+ADw-script+AD4-",
			file("file", "f", "", "x")), "content_type", "/title"),
		up("nested multipart", mp(field("title", "x"), "Content-Disposition: form-data; name=\"file\"\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--"),
			"content_type", "/file"),
		up("invalid utf-8 text part", mp(field("title", "\xff\xfe"), file("file", "f", "", "x")), "body_syntax", "/title"),

		// Limits.
		up("oversize part", mp(field("title", "x"), file("file", "f", "", strings.Repeat("a", 1100))), "body_size", ""),
		up("too many parts", mp(field("title", "x"), file("file", "f", "", "x"), field("tags", "1"), field("tags", "2"), field("tags", "3"),
			field("tags", "4"), field("tags", "5"), field("tags", "6"), field("tags", "7")), "body_syntax", ""),
		up("oversize body", mp(field("title", "x"), file("file", "f", "", strings.Repeat("a", 9000))), "body_size", ""),

		// Structure and boundary confusion.
		{name: "missing boundary", op: "upload", method: "POST", target: "/upload", ct: "multipart/form-data",
			body: mp(field("title", "x"), file("file", "f", "", "x")), want: "body_syntax"},
		{name: "two boundary params", op: "upload", method: "POST", target: "/upload", ct: "multipart/form-data; boundary=B0undary; boundary=other",
			body: mp(field("title", "x"), file("file", "f", "", "x")), want: "content_type"},
		{name: "boundary too long", op: "upload", method: "POST", target: "/upload", ct: "multipart/form-data; boundary=" + strings.Repeat("b", 71),
			body: "--" + strings.Repeat("b", 71) + "\r\n" + field("title", "x") + "\r\n--" + strings.Repeat("b", 71) + "--", want: "body_syntax"},
		up("preamble", "junk\r\n"+mp(field("title", "x"), file("file", "f", "", "x")), "body_syntax", ""),
		up("epilogue", mp(field("title", "x"), file("file", "f", "", "x"))+"Content-Disposition: form-data; name=\"role\"\r\n\r\nadmin", "body_syntax", ""),
		up("no close delimiter", "--B0undary\r\n"+field("title", "x")+"\r\n--B0undary\r\n"+file("file", "f", "", "x"), "body_syntax", ""),
		up("boundary prefix confusion", mp(field("title", "x"), file("file", "f", "", "x\r\n--B0undaryX\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nadmin")), "body_syntax", ""),
		up("boundary mid-line", mp(field("title", "x"), file("file", "f", "", "x --B0undary\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nadmin")), "body_syntax", ""),
		up("LF-only line ends", strings.ReplaceAll(mp(field("title", "x"), file("file", "f", "", "x")), "\r\n", "\n"), "body_syntax", ""),
		up("folded part header", mp("Content-Disposition: form-data;\r\n name=\"role\"\r\n\r\nadmin", field("title", "x"), file("file", "f", "", "x")), "body_syntax", ""),
		up("bare LF in part header", mp("Content-Disposition: form-data; name=\"title\"\nX-Role: admin\r\n\r\nx", file("file", "f", "", "x")), "body_syntax", ""),
		up("CRLF inside quoted name", mp("Content-Disposition: form-data; name=\"ti\r\ntle\"\r\n\r\nx", file("file", "f", "", "x")), "body_syntax", ""),
		up("RFC 2231 name", mp("Content-Disposition: form-data; name*=utf-8''role\r\n\r\nadmin", field("title", "x"), file("file", "f", "", "x")), "body_syntax", ""),
		up("two dispositions", mp("Content-Disposition: form-data; name=\"title\"\r\nContent-Disposition: form-data; name=\"role\"\r\n\r\nx", file("file", "f", "", "x")), "body_syntax", ""),
		up("not form-data", mp("Content-Disposition: attachment; name=\"title\"\r\n\r\nx", file("file", "f", "", "x")), "body_syntax", ""),
		up("no disposition", mp("Content-Type: text/plain\r\n\r\nx", field("title", "x"), file("file", "f", "", "x")), "body_syntax", ""),
		up("quoted-printable transfer encoding", mp("Content-Disposition: form-data; name=\"title\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=3Cscript=3E",
			file("file", "f", "", "x")), "body_syntax", ""),
		up("base64 transfer encoding", mp(field("title", "x"), "Content-Disposition: form-data; name=\"file\"\r\nContent-Transfer-Encoding: base64\r\n\r\nPHNjcmlwdD4="), "body_syntax", ""),
		{name: "urlencoded to multipart op", op: "upload", method: "POST", target: "/upload", ct: formCT, body: "title=x&file=y", want: "content_type"},
		{name: "smuggled query field", op: "upload", method: "POST", target: "/upload?title=root", ct: mpCT,
			body: mp(field("title", "x"), file("file", "f", "", "x")), want: "parameter", field: "title"},
	}
	runCases(t, v, cases)
}

func TestFormOpenAPI31(t *testing.T) {
	v := newValidator(t, "testdata/forms31.yaml", Options{RejectUnknown: true, Injection: inspect.Default})
	up := func(name, body, want, field string) reqCase {
		return reqCase{name: name, op: "upload31", method: "POST", target: "/upload", ct: mpCT, body: body, want: want, field: field}
	}
	runCases(t, v, []reqCase{
		up("ok", mp(file("file", "f", "", "<script>' OR 1=1"), field("size", "5"), field("kind", "doc")), "", ""),
		up("type null union accepts empty as null", mp(file("file", "f", "", "x"), field("size", "")), "", ""),
		up("type null union rejects text", mp(file("file", "f", "", "x"), field("size", "big")), "schema", "/size"),
		up("const", mp(file("file", "f", "", "x"), field("kind", "exe")), "schema", "/kind"),
		up("unevaluatedProperties", mp(file("file", "f", "", "x"), field("owner", "me")), "unknown_property", "/owner"),
		up("sqli in note", mp(file("file", "f", "", "x"), field("note", "1' OR '1'='1")), "injection_sqli", "/note"),
		{name: "ref schema ok", op: "contact31", method: "POST", target: "/contact", ct: formCT, body: "email=a%40example.com&message=hello"},
		{name: "ref schema format", op: "contact31", method: "POST", target: "/contact", ct: formCT, body: "email=nope", want: "schema", field: "/email"},
		{name: "ref schema unknown", op: "contact31", method: "POST", target: "/contact", ct: formCT, body: "email=a%40example.com&admin=1",
			want: "unknown_property", field: "/admin"},
	})
}

func TestParseURLEncodedLimits(t *testing.T) {
	_, err := ParseURLEncoded([]byte("a=1&b=2&c=3"), FormLimits{MaxFields: 2})
	if !errors.Is(err, ErrFormTooMany) {
		t.Errorf("ParseURLEncoded(3 fields, max 2) = %v, want ErrFormTooMany", err)
	}
	_, err = ParseURLEncoded([]byte("a="+strings.Repeat("x", 11)), FormLimits{MaxValueLen: 10})
	if !errors.Is(err, ErrFormTooMany) {
		t.Errorf("ParseURLEncoded(long value) = %v, want ErrFormTooMany", err)
	}
	got, err := ParseURLEncoded([]byte("a+b=c+d&e=%26"), FormLimits{})
	if err != nil || len(got) != 2 || got[0].Name != "a b" || got[0].Value != "c d" || got[1].Value != "&" {
		t.Errorf("ParseURLEncoded(plus and escapes) = %+v, %v", got, err)
	}
}

// FuzzFormDecode (seed corpus in testdata/fuzz/FuzzFormDecode) feeds the urlencoded and multipart decoders arbitrary
// bodies: no panics, and accepted multipart bodies stay within the limits.
func FuzzFormDecode(f *testing.F) {
	seeds := []string{
		"username=ann&age=30&tags=a&tags=b",
		"a=%zz", "a;b=c", "filter%5Bcolor%5D=red",
		mp(field("title", "x"), file("file", "f", "", "x")),
		mp("Content-Disposition: form-data;\r\n name=\"role\"\r\n\r\nadmin"),
		"--B0undary\r\n\r\n--B0undary--",
		mp(field("title", "x\r\n--B0undaryX\r\n")),
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	lim := FormLimits{MaxFields: 16, MaxValueLen: 256, MaxPartSize: 256}
	f.Fuzz(func(t *testing.T, b []byte) {
		if fs, err := ParseURLEncoded(b, lim); err == nil {
			if len(fs) > lim.MaxFields {
				t.Fatalf("ParseURLEncoded returned %d fields, limit %d", len(fs), lim.MaxFields)
			}
		}
		fs, err := ParseMultipart(b, "B0undary", lim)
		if err != nil {
			return
		}
		if len(fs) > lim.MaxFields {
			t.Fatalf("ParseMultipart returned %d parts, limit %d", len(fs), lim.MaxFields)
		}
		for _, f := range fs {
			if int64(len(f.Value)) > lim.MaxPartSize || f.Name == "" {
				t.Fatalf("ParseMultipart part %q of %d bytes, limit %d", f.Name, len(f.Value), lim.MaxPartSize)
			}
		}
	})
}

func benchForm(b *testing.B, op, target, ct, body string) {
	v := newValidator(b, "testdata/forms30.yaml", Options{RejectUnknown: true, Injection: inspect.Default})
	tc := reqCase{op: op, method: "POST", target: target, ct: ct, body: body}
	if err := v.Check(request(tc)); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Check(request(tc)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateForm: a ~1 KiB urlencoded signup (typed fields, arrays,
// deepObject, free prose inspected).
func BenchmarkValidateForm(b *testing.B) {
	bio := strings.Repeat("She maintains the team runbooks and reviews most schema changes. ", 12)
	benchForm(b, "signup", "/signup", formCT, "username=ann&age=41&newsletter=true&plan=pro&code=1234&tags=a&tags=b&ids=1,2,3"+
		"&filter%5Bcolor%5D=red&filter%5Bsize%5D=3&bio="+strings.ReplaceAll(bio, " ", "+"))
}

// BenchmarkValidateMultipart: a multipart upload with a 4 KiB binary file,
// a title and tags.
func BenchmarkValidateMultipart(b *testing.B) {
	benchForm(b, "upload", "/upload", mpCT, mp(field("title", "Holiday photos"), field("tags", "beach"), field("tags", "2026"),
		file("file", "a.bin", "application/octet-stream", strings.Repeat("\x00\x01binary\xff", 400))))
}
