package audit

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/scan"
)

// SetupOptions configures Setup.
type SetupOptions struct {
	// SpecRef is the spec path as the config should name it (relative to
	// the config file's directory).
	SpecRef string
	// Upstream is the default upstream URL ("http://127.0.0.1:5000" when empty).
	Upstream string
	// OverlayRef and KeysRef are the overlay and API-keys file names as the
	// config names them.
	OverlayRef, KeysRef string
}

// SetupFiles are the files Setup writes.
type SetupFiles struct {
	// Config is the commented gateway config (YAML).
	Config []byte
	// Overlay is an OpenAPI Overlay 1.0 document with the constraints the
	// audit found missing, for review.
	Overlay []byte
	// Keys is an empty API keys file, when the spec has an apiKey scheme
	// (nil otherwise).
	Keys []byte
	// Actions are the overlay's actions.
	Actions []OverlayAction
}

// subjectParamRe matches path parameters that name the caller's own
// account: an ownership rule against the token subject is proposed for them.
var subjectParamRe = regexp.MustCompile(`(?i)^(user_?id|uid|account_?id|owner_?id|member_?id|principal_?id|me)$`)

// accountFieldRe picks the login body field that names the account.
var accountFieldRe = regexp.MustCompile(`(?i)^(username|user_?name|email|login|user|account|phone)$`)

// Setup writes a secure-by-default gateway config for spec, and an overlay
// with the constraints the audit finds missing:
//
//   - authz.default: deny; each operation gets a rule: public: true only
//     where the spec says security: [], roles: [admin] for admin-looking
//     operations, an owner rule for path ids that name the caller
//     ({user_id}, {account_id}) and authenticated: true otherwise, with
//     commented owner_response suggestions for other ids;
//   - authn from the security schemes (JWT issuer for bearer, OAuth 2 and
//     OpenID Connect, with ${ENV:-default} placeholders; API keys from a
//     header), HTTP basic is refused with a comment;
//   - brute-force limits on login operations, a per-IP limit for all;
//   - request validation with unknown properties rejected, response
//     filtering and masking on (login tokens unmasked), strict headers,
//     error details hidden.
//
// The output is plain text with comments; every value it contains passes
// gatehouse validate when the spec loads (see the init test).
func Setup(spec *openapi.Spec, o SetupOptions) (files *SetupFiles, err error) {
	if spec == nil || openapi.Model(spec) == nil {
		return nil, errors.New("audit: no spec")
	}
	defer func() {
		if r := recover(); r != nil {
			files, err = nil, fmt.Errorf("%w: %v", ErrPanic, r)
		}
	}()
	if o.Upstream == "" {
		o.Upstream = "http://127.0.0.1:5000"
	}
	c := newCtx(spec, Options{})
	actions, err := SuggestOverlay(spec)
	if err != nil {
		return nil, err
	}
	files = &SetupFiles{Actions: actions}
	title := "API"
	if openapi.Model(spec).Info != nil && openapi.Model(spec).Info.Title != "" {
		title = openapi.Model(spec).Info.Title
	}
	files.Overlay = WriteOverlay("gatehouse constraints for "+title, o.SpecRef, actions)

	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# gatehouse config for %s, written by `gatehouse init` from %s.\n", oneLine(title), o.SpecRef)
	w("# Secure by default: every operation is denied unless a rule below allows it.\n")
	w("# Review each REVIEW comment, then: gatehouse validate -c <this file>\n")
	w("listen: \":8080\"\n")
	w("upstream: \"${GATEHOUSE_UPSTREAM:-%s}\"\n", o.Upstream)
	w("spec: %s\n", strconv.Quote(o.SpecRef))
	w("mode: enforce                 # monitor logs what would be blocked without blocking\n")
	if o.OverlayRef != "" {
		w("# %d constraints the audit found missing (bounds, patterns, additionalProperties: false)\n", len(actions))
		w("# are in %s, an OpenAPI Overlay applied to the spec at every load:\n", o.OverlayRef)
		w("# review them (a request they refuse gets 400 and never reaches the upstream)\n")
		w("spec_overlays: [%s]\n", strconv.Quote(o.OverlayRef))
	}
	w("\n")

	// authn
	w("authn:\n")
	jwt, keys := false, false
	for _, sc := range c.schemes() {
		s := sc.s
		switch {
		case strings.EqualFold(s.Type, "http") && strings.EqualFold(s.Scheme, "bearer"),
			strings.EqualFold(s.Type, "oauth2"), strings.EqualFold(s.Type, "openIdConnect"):
			if jwt {
				w("  # security scheme %q: tokens from the same issuer as above (add an issuer if not)\n", oneLine(sc.name))
				continue
			}
			jwt = true
			w("  # from security scheme %q (%s)\n", oneLine(sc.name), s.Type)
			writeJWT(w, s)
		case strings.EqualFold(s.Type, "apiKey"):
			if keys {
				continue
			}
			keys = true
			header := s.Name
			w("  # from security scheme %q (apiKey in %s)\n", oneLine(sc.name), s.In)
			if !strings.EqualFold(s.In, "header") || !validHeaderName(header) {
				w("  # REVIEW: the spec sends the key in the %s (%q); gatehouse reads it from a header only\n", s.In, s.Name)
				header = "X-API-Key"
			}
			w("  api_keys:\n")
			w("    header: %s\n", strconv.Quote(header))
			w("    file: %s   # sha256 hashes only: gatehouse apikey --help\n", strconv.Quote(o.KeysRef))
		case strings.EqualFold(s.Type, "http") && strings.EqualFold(s.Scheme, "basic"):
			w("  # security scheme %q is HTTP basic (GH1004): not supported; issue tokens instead\n", oneLine(sc.name))
		}
	}
	if !jwt && !keys {
		w("  # the spec declares no usable security scheme (GH1001): every operation still needs a token\n")
		writeJWT(w, nil)
		jwt = true
	}
	if jwt {
		w("  revocation: { store: memory }   # redis://... when running several nodes\n")
		for _, op := range spec.Operations {
			if op.HasOperationID && scan.IsLogout(op) {
				w("  logout_operation: %s        # a 2xx from it revokes the presented token\n", strconv.Quote(op.ID))
				break
			}
		}
	}
	if keys {
		files.Keys = []byte("# API keys for gatehouse: sha256 hashes only, never the keys themselves.\n# - { hash: \"sha256:...\", subject: ci-bot, roles: [deployer] }\n[]\n")
	}
	w("\n")

	// authz
	w("authz:\n")
	w("  default: deny                 # an operation no rule allows is refused\n")
	w("  rules:\n")
	var logins []*openapi.Operation
	for _, op := range spec.Operations {
		if scan.IsLogin(op) {
			logins = append(logins, op)
		}
		writeRule(w, c, op)
	}
	w("\n")

	// rate limits
	w("rate_limits:\n")
	w("  store: memory                 # redis://host:6379/0 to share counters between nodes\n")
	w("  limits:\n")
	w("    - { name: per-ip, key: ip, rate: \"50/s\", burst: 100 }\n")
	w("    - { name: per-user, key: user, rate: \"20/s\", burst: 40 }\n")
	var loginIDs []string
	for _, op := range logins {
		if op.HasOperationID {
			loginIDs = append(loginIDs, op.ID)
		}
	}
	if len(loginIDs) > 0 {
		w("  login:                        # brute-force protection\n")
		w("    operations: [%s]\n", quoteList(loginIDs))
		field := accountField(logins[0])
		w("    per_ip: { rate: \"5/min\", burst: 5 }\n")
		if field != "" {
			w("    account_field: %s\n", strconv.Quote(field))
			w("    per_account: { rate: \"10/h\", burst: 10 }\n")
			w("    lockout: { after_failures: 5, base: 1m, max: 1h }\n")
		} else {
			w("    # REVIEW: no username/email field found in the login body; set account_field\n")
			w("    # (a JSON pointer) to add per_account limits and a lockout\n")
		}
	}
	w("\n")

	w("request:\n")
	w("  validate: true\n")
	w("  reject_unknown_properties: true   # mass assignment (\"role\": \"admin\") is refused\n")
	w("  detect_injection: true\n")
	w("  max_body: 1MiB\n")
	w("  max_depth: 32\n")
	w("  max_string_length: 64KiB          # fallback for strings the spec leaves unbounded\n")
	w("  max_array_length: 10000\n")
	w("\n")

	w("response:\n")
	w("  mode: filter                  # fields the spec does not declare never leave\n")
	mask := maskFields(c)
	w("  mask_fields: [%s]\n", quoteList(mask))
	w("  mask_card_numbers: true\n")
	if len(loginIDs) > 0 {
		w("  operations:\n")
		for _, id := range loginIDs {
			w("    %s: { unmask: [token, access_token, refresh_token, id_token] }   # the login returns the token\n", strconv.Quote(id))
		}
	}
	w("\n")
	w("errors:\n  expose_details: false\n  validation_detail: field\n\n")
	w("headers:\n  preset: strict                # HSTS, nosniff, frame-ancestors 'none', no Server header\n\n")
	w("# cors:\n#   allow_origins: [\"https://app.example.com\"]   # only the browser apps that call this API\n")
	files.Config = []byte(b.String())
	return files, nil
}

func writeJWT(w func(string, ...any), s *v3.SecurityScheme) {
	issuer, jwks, discovery := "https://idp.example.com/", "https://idp.example.com/.well-known/jwks.json", false
	if s != nil && strings.EqualFold(s.Type, "openIdConnect") && s.OpenIdConnectUrl != "" {
		if u := strings.TrimSuffix(s.OpenIdConnectUrl, "/.well-known/openid-configuration"); u != s.OpenIdConnectUrl && strings.HasPrefix(u, "https://") {
			issuer, discovery = u, true
		}
	}
	w("  jwt:\n")
	w("    - issuer: \"${GATEHOUSE_JWT_ISSUER:-%s}\"   # REVIEW: your identity provider\n", issuer)
	if discovery {
		w("      discovery: true             # keys from the issuer's OpenID configuration\n")
	} else {
		w("      jwks_url: \"${GATEHOUSE_JWT_JWKS_URL:-%s}\"\n", jwks)
	}
	w("      audiences: [\"${GATEHOUSE_JWT_AUDIENCE:-api}\"]   # REVIEW: tokens minted for other APIs are refused\n")
	w("      algorithms: [RS256, ES256]   # never none, never HS* with a shared secret\n")
	w("      require_exp: true\n")
	w("      max_lifetime: 1h\n")
	w("      roles_claim: roles\n")
}

// writeRule writes the authz rule of one operation.
func writeRule(w func(string, ...any), c *auditCtx, op *openapi.Operation) {
	key := strconv.Quote(op.ID)
	explicitPublic := openapi.Op(op).Security != nil && len(openapi.Op(op).Security) == 0
	switch {
	case explicitPublic:
		w("    %s: { public: true }   # security: [] in the spec\n", key)
		return
	case scan.LooksAdmin(op):
		w("    %s: { roles: [admin] }   # admin-looking (%s %s)\n", key, op.Method, oneLine(op.Template))
		return
	}
	var subject, others []string
	for _, p := range openapi.Params(op) {
		if !strings.EqualFold(p.In, "path") {
			continue
		}
		switch {
		case subjectParamRe.MatchString(p.Name):
			subject = append(subject, p.Name)
		case IDParam(p.Name) || strings.Contains(strings.ToLower(p.Name), "id"):
			others = append(others, p.Name)
		}
	}
	if len(subject) > 0 {
		w("    %s: { owner: { param: %s, claim: sub, unless_role: admin } }   # {%s} names the caller\n", key, strconv.Quote(subject[0]), oneLine(subject[0]))
		return
	}
	if (op.Method == "GET" || op.Method == "HEAD") && op.HasOperationID && openapi.Op(op).Extensions != nil {
		if n, ok := openapi.Op(op).Extensions.Get("x-gatehouse-owner-field"); ok && n != nil && n.Value != "" {
			w("    %s: { owner_response: { claim: sub, unless_role: admin } }   # the spec names the owner field (x-gatehouse-owner-field)\n", key)
			return
		}
	}
	reqs, _ := c.effectiveSecurity(op)
	comment := ""
	if len(reqs) == 0 {
		comment = "   # REVIEW: no security in the spec; public: true only if meant to be public"
	}
	w("    %s: { authenticated: true }%s\n", key, comment)
	for _, p := range others {
		if op.Method == "GET" && op.HasOperationID {
			w("    # REVIEW %s: who may read {%s}? If the response names its owner:\n", oneLine(op.ID), oneLine(p))
			w("    # %s: { owner_response: { field: /owner_id, claim: sub, unless_role: admin } }\n", key)
		} else {
			w("    # REVIEW %s: who may use {%s}? e.g. an allow: CEL rule over request.path and principal\n", oneLine(op.ID), oneLine(p))
		}
	}
}

// accountField returns the JSON pointer of the account name in a login
// body ("" when there is none).
func accountField(op *openapi.Operation) string {
	rb := openapi.Op(op).RequestBody
	if rb == nil || rb.Content == nil {
		return ""
	}
	for ct, mt := range rb.Content.FromOldest() {
		if !strings.Contains(ct, "json") || mt == nil || mt.Schema == nil {
			continue
		}
		s := mt.Schema.Schema()
		if s == nil || s.Properties == nil {
			continue
		}
		for name := range s.Properties.KeysFromOldest() {
			if accountFieldRe.MatchString(name) {
				return "/" + escape(name)
			}
		}
	}
	return ""
}

// maskFields is the default mask plus the sensitive response property
// names the audit finds.
func maskFields(c *auditCtx) []string {
	set := map[string]bool{}
	for _, f := range []string{"password", "password_hash", "secret", "client_secret", "token", "access_token", "refresh_token",
		"api_key", "private_key", "ssn", "card_number", "cvv"} {
		set[f] = true
	}
	for _, st := range c.schemas.sites {
		if st.dir != dirResponse || st.s.Properties == nil {
			continue
		}
		for name := range st.s.Properties.KeysFromOldest() {
			if Sensitive(name) && validMaskName(name) {
				set[name] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var maskNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func validMaskName(s string) bool { return maskNameRe.MatchString(s) }

var headerNameRe = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func validHeaderName(s string) bool { return headerNameRe.MatchString(s) }

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// oneLine keeps spec text from breaking out of a YAML comment.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0x85 {
			return ' '
		}
		return r
	}, s)
	if r := []rune(strings.ToValidUTF8(s, "?")); len(r) > 80 {
		s = string(r[:80]) + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
