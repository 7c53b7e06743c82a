package waf

import (
	"io"
	"net/http"
	"testing"
)

// FuzzCheck feeds attacker-chosen request targets, content types and bodies
// through the CRS: Check must not panic or fail on any input, a blocked
// verdict carries one of the generic statuses, and a body that passes is
// handed to the next stage byte for byte.
func FuzzCheck(f *testing.F) {
	f.Add("/search?q=1'+UNION+SELECT+password+FROM+users--", "", []byte(nil))
	f.Add("/notes", "application/json", []byte(`{"text":"O'Brien","tags":["a",{"b":null}]}`))
	f.Add("/notes", "application/json", []byte(`{"\u0071":"\u003cscript\u003e"`))
	f.Add("/notes", "application/x-www-form-urlencoded", []byte("a=1&a=2&b=%ZZ&c"))
	f.Add("/notes", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n--x--\r\n"))
	f.Add("/notes", "text/xml", []byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e SYSTEM "file:///etc/passwd">]><a>&e;</a>`))
	f.Add("/%2e%2e/%c0%ae?x=%u0027", "application/json", []byte("[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]"))
	w := pl1(f)
	f.Fuzz(func(t *testing.T, target, ct string, body []byte) {
		if len(target) == 0 || target[0] != '/' {
			target = "/" + target
		}
		r := req("POST", target, ct, string(body))
		if ct == "" && len(body) > 0 {
			r.Header.Del("Content-Type")
		}
		v, err := w.Check(r, netipLoopback, nil)
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if v.Blocked {
			switch v.Status {
			case http.StatusForbidden, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			default:
				t.Fatalf("blocked with status %d", v.Status)
			}
			return
		}
		got, err := io.ReadAll(r.Body)
		if err != nil || string(got) != string(body) {
			t.Fatalf("body after Check = %q, %v; want %q", got, err, body)
		}
	})
}
