package scan

import (
	"net/http"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"

	"github.com/gatehouse/gatehouse/openapi"
)

// PasswordField reports whether a body field named k holds a password
// ("password", "newPassword", "new_pass", "passwd", "pwd", "passphrase";
// not "passport" or "bypass").
func PasswordField(k string) bool {
	for _, w := range words(k) {
		if w == "pass" || w == "pw" || strings.Contains(w, "password") || strings.Contains(w, "passwd") ||
			strings.Contains(w, "passphrase") || strings.Contains(w, "passcode") || strings.Contains(w, "pwd") {
			return true
		}
	}
	return false
}

// CurrentPasswordField reports whether password field k names the current
// password ("oldPassword", "current_password") rather than the new one.
func CurrentPasswordField(k string) bool {
	if !PasswordField(k) {
		return false
	}
	for _, w := range words(k) {
		switch w {
		case "old", "current", "curr", "existing", "previous", "prev", "oldpassword", "currentpassword":
			return true
		}
	}
	return false
}

// credentialWords in an operationId, summary or static path mark an
// operation about credentials; creationWords mark a POST that creates an
// account (a registration) rather than changing one.
var (
	credentialWords = map[string]bool{"password": true, "passwd": true, "pwd": true, "passphrase": true, "passcode": true,
		"credential": true, "credentials": true}
	creationWords = map[string]bool{"register": true, "registration": true, "signup": true, "join": true, "create": true,
		"invite": true, "enroll": true, "enrol": true}
	accountSegs = map[string]bool{"user": true, "users": true, "account": true, "accounts": true, "member": true, "members": true,
		"me": true, "profile": true, "self": true, "customer": true, "customers": true}
)

// CredentialExtension reads op's x-gatehouse-credential, the gateway's
// mark of an operation that sets a password (docs/contract.md): true, a
// bare string (the password field) or a mapping with field. It reports
// whether the mark is there (false and absent are not) and the password
// field it names ("" when none).
func CredentialExtension(op *openapi.Operation) (marked bool, field string) {
	c, marked, err := op.Credential()
	if err != nil {
		// The gateway refuses to start on such a mark; the scan still
		// treats the operation as a credential change, the safe side for
		// the damage guard.
		return true, ""
	}
	if !c.Named {
		return marked, ""
	}
	return marked, c.Field
}

// IsCredentialChange reports whether op changes the credential of an
// existing account: a PUT, PATCH or POST (not a login, logout or
// registration: a POST whose words say register, signup, create, invite...)
// marked x-gatehouse-credential, or whose JSON request body declares a
// password-like property and whose operationId, summary or static path
// says password/passwd/pwd/credential, or a PUT/PATCH of such a body on an
// account (a user-like path parameter such as {username}, or a
// users/account/me/profile path). Such an operation is never sent as one
// of the scan's own identities, nor naming one (see the damage guard), and
// GH2010 tries it only on throwaway accounts the scan registers itself.
func IsCredentialChange(op *openapi.Operation) bool {
	if op == nil || openapi.Op(op) == nil {
		return false
	}
	switch op.Method {
	case http.MethodPut, http.MethodPatch, http.MethodPost:
	default:
		return false
	}
	if IsLogin(op) || IsLogout(op) {
		return false
	}
	marked, _ := CredentialExtension(op)
	hasPw := marked
	for _, k := range bodyProperties(op) {
		if PasswordField(k) {
			hasPw = true
		}
	}
	if !hasPw {
		return false
	}
	var static []string
	params := false
	for _, seg := range strings.Split(op.Template, "/") {
		if strings.HasPrefix(seg, "{") {
			params = params || IdentityParam(strings.Trim(seg, "{}"))
			continue
		}
		static = append(static, seg)
	}
	var ws []string
	if op.HasOperationID {
		ws = append(ws, words(op.ID)...)
	}
	ws = append(ws, words(strings.Join(static, "/"))...)
	ws = append(ws, words(openapi.Op(op).Summary)...)
	cred := marked
	for _, w := range ws {
		if op.Method == http.MethodPost && creationWords[w] {
			return false // a registration sets a first password: not a change
		}
		cred = cred || credentialWords[w]
	}
	if cred {
		return true
	}
	if op.Method == http.MethodPost {
		return false
	}
	if params {
		return true
	}
	for _, s := range static {
		if accountSegs[strings.ToLower(s)] {
			return true
		}
	}
	return false
}

// bodyProperties returns the top-level property names of op's JSON
// request body schema (allOf members included).
func bodyProperties(op *openapi.Operation) []string {
	rb := openapi.Op(op).RequestBody
	if rb == nil || rb.Content == nil {
		return nil
	}
	var out []string
	var walk func(s *base.Schema, depth int)
	walk = func(s *base.Schema, depth int) {
		if s == nil || depth > 4 {
			return
		}
		if s.Properties != nil {
			for k := range openapi.Properties(s) {
				out = append(out, k)
			}
		}
		for _, p := range s.AllOf {
			walk(schemaOf(p), depth+1)
		}
	}
	for ct, mt := range rb.Content.FromOldest() {
		if strings.Contains(ct, "json") && mt != nil {
			walk(schemaOf(mt.Schema), 0)
		}
	}
	return out
}
