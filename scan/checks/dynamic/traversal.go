package dynamic

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// PathTraversal (GH2055) puts ../ sequences towards /etc/passwd into
// file-like parameters (names like file, path, filename, template, or
// format uri-reference) of GET operations; a finding needs the passwd
// marker (root:x:0:0:) in the answer, absent from the valid answer, twice.
type PathTraversal struct{}

var _ scan.Check = PathTraversal{}

// Meta implements scan.Check.
func (PathTraversal) Meta() scan.Meta {
	return scan.Meta{
		ID: "GH2055", Title: "Path traversal", Category: "injection",
		Severity: scan.Critical, OWASP: scan.API8Misconfig, CWE: "CWE-22",
		Description: "A file-like parameter with ../ sequences returned the server's /etc/passwd: any file the process can read is exposed.",
		Remediation: "Map file names to an allow-list or resolve them under a fixed root (os.Root, filepath.IsLocal) and refuse anything else.",
		Fix:         "request: { validate: true, detect_injection: true }   # and a pattern for the parameter in the contract",
		Intrusive:   true,
	}
}

var (
	fileParamRe = regexp.MustCompile(`(?i)^(file|files|path|filepath|file_?name|filename|template|tpl|doc|document|page|include|attachment|download)$|(file|path|template)s?$`)
	passwdRe    = regexp.MustCompile(`root:[x*!]?:0:0:`)
	traversals  = []string{
		"../../../../../../../../etc/passwd",
		"....//....//....//....//....//....//etc/passwd",
		"/etc/passwd",
		"..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", // decoded once more by the application
	}
)

// Run implements scan.Check.
func (PathTraversal) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range ops(t, func(op *openapi.Operation) bool { return op.Method == http.MethodGet }) {
		for _, prm := range openapi.Params(op) {
			if prm == nil {
				continue
			}
			in := strings.ToLower(prm.In)
			s := scan.SchemaOf(prm.Schema)
			if in != "query" && in != "path" || s == nil || !hasType(s, "string") && len(s.Type) > 0 {
				continue
			}
			if !fileParamRe.MatchString(prm.Name) && s.Format != "uri-reference" {
				continue
			}
			id := actor(t, op)
			base, err := t.Baseline(ctx, op, id)
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			if base != nil && passwdRe.Match(base.Body) {
				continue
			}
			for _, payload := range traversals {
				p := t.Prepare(op, id)
				if in == "path" {
					p.Path[prm.Name] = payload
				} else {
					p.Query.Set(prm.Name, payload)
				}
				var last *scan.Exchange
				hits := 0
				for range 2 {
					ex, err := t.Send(ctx, p, id)
					if err != nil {
						if err := stopErr(ctx, err); err != nil {
							return err
						}
						break
					}
					if !passwdRe.Match(ex.Body) {
						break
					}
					last = ex
					hits++
				}
				if hits < 2 {
					continue
				}
				report(scan.Finding{
					Param:  in + " " + prm.Name,
					Detail: fmt.Sprintf("%s %s with %s %s=%q answered the contents of /etc/passwd (root:x:0:0:), twice; the valid answer did not contain it.", op.Method, op.Template, in, prm.Name, payload),
				}.At(op).With(last, "traversal"))
				break
			}
		}
	}
	return nil
}
