package openapi

import (
	"errors"
	"fmt"

	"github.com/pb33f/go-yaml"
)

// CredentialExtension marks a registration or password-change operation:
// the gateway checks the new password in its body (breached and weak
// passwords, length, similarity to the user fields) before the upstream
// sees it, and the scanner knows the operation changes a credential.
const CredentialExtension = "x-gatehouse-credential"

// Credential is what an operation's x-gatehouse-credential says.
type Credential struct {
	Field      string   `yaml:"field"`       // the new-password property (default "password")
	UserFields []string `yaml:"user_fields"` // properties the password must not resemble
	MinLength  int      `yaml:"min_length"`
	MaxLength  int      `yaml:"max_length"`
	// Named tells whether the mark named Field (a field name, or field:
	// in the mapping) rather than leaving the default.
	Named bool `yaml:"-"`
}

// Credential reads op's x-gatehouse-credential. The gateway and the
// scanner read it through this one function, so they never disagree on
// what an operation means. Accepted forms:
//
//	x-gatehouse-credential: true                 # marked, field "password"
//	x-gatehouse-credential: false                # explicitly not marked
//	x-gatehouse-credential: newPassword          # marked, that field
//	x-gatehouse-credential: {field: pw, user_fields: [username], min_length: 10, max_length: 128}
//
// A null is "not marked". Anything else (a number, a list, an unknown key,
// a length out of range) is an error naming what was wanted: a mark the
// gateway would silently ignore is a password check silently off.
func (op *Operation) Credential() (c Credential, marked bool, err error) {
	if op == nil || Op(op) == nil || Op(op).Extensions == nil {
		return Credential{}, false, nil
	}
	n, ok := Op(op).Extensions.Get(CredentialExtension)
	if !ok || n == nil {
		return Credential{}, false, nil
	}
	c, marked, err = decodeCredential(n)
	if err != nil {
		return Credential{}, false, fmt.Errorf("%s%s: %w", op.Pointer, "/"+CredentialExtension, err)
	}
	return c, marked, nil
}

func decodeCredential(n *yaml.Node) (Credential, bool, error) {
	for n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return Credential{}, false, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return Credential{}, false, err
			}
			return Credential{Field: "password"}, b, nil
		case "!!str", "":
			if n.Value == "" {
				return Credential{}, false, errors.New("empty field name: want true, a field name or {field, user_fields, min_length, max_length}")
			}
			return Credential{Field: n.Value, Named: true}, true, nil
		}
		return Credential{}, false, fmt.Errorf("%s %q: want true, a field name or {field, user_fields, min_length, max_length}", n.Tag, n.Value)
	case yaml.MappingNode:
		known := map[string]bool{"field": true, "user_fields": true, "min_length": true, "max_length": true}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !known[k] {
				return Credential{}, false, fmt.Errorf("unknown key %q: want field, user_fields, min_length, max_length", k)
			}
		}
		var c Credential
		if err := n.Decode(&c); err != nil {
			return Credential{}, false, fmt.Errorf("want {field, user_fields, min_length, max_length}: %w", err)
		}
		c.Named = c.Field != ""
		if c.Field == "" {
			c.Field = "password"
		}
		if c.MinLength < 0 || c.MaxLength < 0 || (c.MaxLength > 0 && c.MaxLength < max(c.MinLength, 1)) || c.MaxLength > 4096 {
			return Credential{}, false, fmt.Errorf("min_length %d / max_length %d out of range (0 ≤ min ≤ max ≤ 4096)", c.MinLength, c.MaxLength)
		}
		return c, true, nil
	}
	return Credential{}, false, errors.New("want true, a field name or {field, user_fields, min_length, max_length}")
}
