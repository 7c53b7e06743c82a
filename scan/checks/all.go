// Package checks lists gatehouse's checks: the dynamic ones run by
// `gatehouse scan` (GH2xxx, in scan/checks/dynamic).
package checks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

// Dynamic returns every dynamic check, in ID order.
func Dynamic() []scan.Check {
	cs := []scan.Check{
		dynamic.NoAuth{},
		dynamic.JWTSignature{},
		dynamic.WeakSecret{},
		dynamic.TokenLifetime{},
		dynamic.AfterLogout{},
		dynamic.KeyConfusion{},
		dynamic.ExpiredToken{},
		dynamic.DefaultCredentials{},
		dynamic.CredentialsInURL{},
		dynamic.CookieFlags{},
		dynamic.PredictableTokens{},
		dynamic.BOLA{},
		dynamic.BFLA{},
		dynamic.Exposure{},
		dynamic.Undeclared{},
		dynamic.MassAssignment{},
		dynamic.WeakPassword{},
		dynamic.LoginRateLimit{},
		dynamic.ReadRateLimit{},
		dynamic.UserEnumeration{},
		dynamic.ErrorHandling{},
		dynamic.InputValidation{},
		dynamic.SQLiError{},
		dynamic.SQLiBoolean{},
		dynamic.NoSQLInjection{},
		dynamic.SQLiTime{},
		dynamic.CommandInjection{},
		dynamic.PathTraversal{},
		dynamic.ReDoS{},
		dynamic.ParameterPollution{},
		dynamic.SecurityHeaders{},
		dynamic.CORS{},
		dynamic.VersionDisclosure{},
		dynamic.Trace{},
		dynamic.PlainHTTP{},
		dynamic.ExposedDebug{},
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Meta().ID < cs[j].Meta().ID })
	return cs
}

// Select returns the dynamic checks matching a comma-separated list of
// check IDs ("GH2010") and categories ("authn", "injection"); "" or "all"
// selects every check. A leading "-" excludes ("all,-injection").
func Select(spec string) ([]scan.Check, error) {
	all := Dynamic()
	if strings.TrimSpace(spec) == "" {
		return all, nil
	}
	include := map[string]bool{}
	exclude := map[string]bool{}
	anyInclude := false
	for _, tok := range strings.Split(spec, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		neg := strings.HasPrefix(tok, "-")
		tok = strings.ToLower(strings.TrimPrefix(tok, "-"))
		known := tok == "all"
		for _, c := range all {
			m := c.Meta()
			if strings.EqualFold(m.ID, tok) || m.Category == tok {
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("unknown check or category %q (categories: authn, bola, bfla, exposure, mass-assignment, ratelimit, dos, errors, injection, misconfig)", tok)
		}
		if neg {
			exclude[tok] = true
		} else {
			include[tok] = true
			anyInclude = true
		}
	}
	var out []scan.Check
	for _, c := range all {
		m := c.Meta()
		id, cat := strings.ToLower(m.ID), m.Category
		in := !anyInclude || include["all"] || include[id] || include[cat]
		if in && !exclude[id] && !exclude[cat] {
			out = append(out, c)
		}
	}
	return out, nil
}

// Settings tune the checks that take parameters; zero values keep the
// defaults.
type Settings struct {
	// Burst is the number of requests of the rate-limit bursts (GH2030 on
	// login, GH2032 on a cheap read); 0 = dynamic.LoginBurst.
	Burst int
}

// Tune returns cs with s applied to the checks it concerns.
func Tune(cs []scan.Check, s Settings) []scan.Check {
	out := make([]scan.Check, len(cs))
	for i, c := range cs {
		switch c.(type) {
		case dynamic.LoginRateLimit:
			c = dynamic.LoginRateLimit{Burst: s.Burst}
		case dynamic.ReadRateLimit:
			c = dynamic.ReadRateLimit{Burst: s.Burst}
		}
		out[i] = c
	}
	return out
}
