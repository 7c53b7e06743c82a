package dynamic

import (
	"context"
	"fmt"
	"regexp"

	"github.com/gatehouse/gatehouse/scan"
)

// PathTraversal (GH2055) puts ../ sequences towards /etc/passwd into the
// file-like injection points of every operation injection probes may send
// (see points: path, query, declared headers and cookies, body and form
// fields, nested ones included) whose name is file-like (file, path,
// filename, template... or a leaf key such as options.template) or whose
// format is uri-reference: a report renderer's JSON "template", an export
// form's "filename" as much as a download's query parameter. A finding
// needs the passwd marker (root:x:0:0:) in the answer, absent from the
// valid answer, twice.
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
	passwdRe   = regexp.MustCompile(`root:[x*!]?:0:0:`)
	traversals = []string{
		"../../../../../../../../etc/passwd",
		"....//....//....//....//....//....//etc/passwd",
		"/etc/passwd",
		"..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", // decoded once more by the application
	}
)

// Run implements scan.Check.
func (PathTraversal) Run(ctx context.Context, t *scan.Target, report func(scan.Finding)) error {
	for _, op := range injectable(t) {
		who, p0, ok := prepareInjection(t, op)
		if !ok {
			continue
		}
		var pts []point
		for _, pt := range points(p0) {
			if fileLike(pt) {
				pts = append(pts, pt)
			}
		}
		if len(pts) == 0 {
			continue
		}
		base, err := t.Send(ctx, p0, who)
		if err != nil {
			if err := stopErr(ctx, err); err != nil {
				return err
			}
			continue
		}
		if passwdRe.Match(base.Body) {
			continue
		}
	points:
		for _, pt := range pts {
			for _, payload := range traversals {
				var last *scan.Exchange
				hits := 0
				for range 2 {
					p := p0.Clone()
					pt.set(p, payload)
					ex, err := t.Send(ctx, p, who)
					if err != nil {
						if err := stopErr(ctx, err); err != nil {
							return err
						}
						break points
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
					Param:  pt.String(),
					Detail: fmt.Sprintf("%s %s with %s = %q answered the contents of /etc/passwd (root:x:0:0:), twice; the valid answer did not contain it.", op.Method, op.Template, pt, payload),
				}.At(op).With(last, "traversal"))
				break
			}
		}
	}
	return nil
}

// fileLike reports whether an injection point names a file: its name (the
// last key of a nested body point) is file-like, or its schema's format is
// uri-reference. Non-string schemas are left out.
func fileLike(pt point) bool {
	if pt.schema != nil && len(pt.schema.Type) > 0 && !hasType(pt.schema, "string") {
		return false
	}
	if pt.schema != nil && pt.schema.Format == "uri-reference" {
		return true
	}
	return scan.FileLikeName(pt.name)
}
