package oasvalidate

import (
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/inspect"
)

// TestIdentifierSQLGrammar: SQL fragments that libinjection lets through
// (ORDER BY 3--, AND 1=1, WAITFOR DELAY) are refused where the spec makes
// the value an identifier (a path parameter; a query parameter with
// maxLength <= 64 or x-gatehouse-identifier: true; a body string marked
// so) and pass in free-form strings and where the spec opts out.
func TestIdentifierSQLGrammar(t *testing.T) {
	v := newValidator(t, "testdata/identifiers31.yaml", Options{RejectUnknown: true, Injection: inspect.Default})
	q := func(k, val string) string { return "?" + k + "=" + url.QueryEscape(val) }
	const frag = " ORDER BY 3-- "
	const taut = "x AND 1=1"
	const wait = "1 waitfor delay '0:0:5'"
	get := func(name, target string, params map[string]string, want string) reqCase {
		return reqCase{name: name, op: "getProduct", method: "GET", target: target, params: params, want: want}
	}
	slug := map[string]string{"slug": "chair"}
	cases := []reqCase{
		get("path order by", "/products/x", map[string]string{"slug": frag}, "injection_sqli"),
		get("path tautology", "/products/x", map[string]string{"slug": taut}, "injection_sqli"),
		get("path waitfor", "/products/x", map[string]string{"slug": wait}, "injection_sqli"),
		get("path double-encoded order by", "/products/x", map[string]string{"slug": "1%20ORDER%20BY%203--%20"}, "injection_sqli"),
		get("path full-width quote", "/products/x", map[string]string{"slug": "x\uff07 OR \uff071\uff07=\uff071"}, "injection_sqli"),
		get("path benign select-chair", "/products/x", map[string]string{"slug": "select-chair"}, ""),
		get("path benign O'Brien", "/products/x", map[string]string{"slug": "O'Brien"}, ""),
		get("path benign Tom and Jerry", "/products/x", map[string]string{"slug": "Tom and Jerry"}, ""),
		get("short query sku order by", "/products/chair"+q("sku", frag), slug, "injection_sqli"),
		get("marked query ref order by", "/products/chair"+q("ref", frag), slug, "injection_sqli"),
		get("free query q order by passes", "/products/chair"+q("q", frag), slug, ""),
		get("free query q libinjection still", "/products/chair"+q("q", "1' OR '1'='1"), slug, "injection_sqli"),
		get("free query q double-encoded", "/products/chair"+q("q", "1%27%20OR%20%271%27%3D%271"), slug, "injection_sqli"),
		get("opted-out short query passes", "/products/chair"+q("note", frag), slug, ""),
		get("short query benign", "/products/chair"+q("sku", "Côte d'Ivoire"), slug, ""),
		{name: "opted-out path passes", op: "getWikiPage", method: "GET", target: "/wiki/x", params: map[string]string{"title": "Sorting: order by 3 --"}},
		{name: "opted-out path still libinjection", op: "getWikiPage", method: "GET", target: "/wiki/x", params: map[string]string{"title": "1' OR '1'='1"}, want: "injection_sqli"},
		{name: "marked body string", op: "createOrder", method: "POST", target: "/orders", ct: jsonCT, body: `{"coupon":" AND 1=1"}`, want: "injection_sqli"},
		{name: "unmarked short body string passes", op: "createOrder", method: "POST", target: "/orders", ct: jsonCT, body: `{"name":" AND 1=1"}`},
		{name: "free body string passes", op: "createOrder", method: "POST", target: "/orders", ct: jsonCT, body: `{"comment":"sorted in order by date"}`},
	}
	runCases(t, v, cases)
}

// BenchmarkValidateParams is one GET with a path parameter (an identifier),
// a short query parameter (an identifier) and a free-form query parameter:
// validation and injection checks per request. "plain" values are slugs
// the SQL-grammar prefilter clears at once; "punctuated" values carry
// spaces and quotes, so the grammar and the Unicode fold run in full.
func BenchmarkValidateParams(b *testing.B) {
	v := newValidator(b, "testdata/identifiers31.yaml", Options{RejectUnknown: true, Injection: inspect.Default})
	for _, bc := range []struct{ name, slug, sku, q string }{
		{"plain", "oak-dining-chair-2", "SKU-12345", "oak chair"},
		{"punctuated", "O'Brien & Sons (Dublin)", "Côte d'Ivoire 50% + 1", "O'Brien\u2019s oak chair, 2 seats; \"best\" -- ever"},
	} {
		target := "/products/x?sku=" + url.QueryEscape(bc.sku) + "&q=" + url.QueryEscape(bc.q)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r := request(reqCase{op: "getProduct", method: "GET", target: target, params: map[string]string{"slug": bc.slug}})
				if err := v.Check(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
