package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/authn/jwt"
)

func init() { subcommands = append(subcommands, newTokenCmd) }

type tokenFlags struct {
	key, secretEnv, sub, aud, iss, kid, alg, jti string
	roles, scopes, claims                        []string
	ttl                                          time.Duration
	noExp                                        bool
}

func newTokenCmd() *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "token --key FILE [--sub S --roles a,b --scopes x,y --ttl 1h --aud A --iss I]",
		Short: "Mint a signed test JWT from a local key (and print JWKS, generate keys)",
		Long: `Token mints a signed JWT from a local private key (PEM or JWK), for trying a gateway
setup by hand. The gateway trusts it when its config names the same key file (the
gateway uses only the public half) and the same issuer:

  authn:
    jwt:
      - issuer: gatehouse
        keys: [signing.pem]
        audiences: [my-api]
        algorithms: [EdDSA]

The kid is the key's own kid, or its RFC 7638 thumbprint - the same kid the gateway
gives a key file without one. The algorithm follows the key type (RSA: RS256,
P-256: ES256, P-384: ES384, Ed25519: EdDSA) unless --alg says otherwise. HS* tokens
are signed with the secret in the environment variable named by --secret-env (or an
oct JWK), at least as long as the hash: HS256 32, HS384 48, HS512 64 bytes.

The token goes to stdout, nothing else, so it can be captured:
  TOKEN=$(gatehouse token --key signing.pem --sub alice --roles admin --aud my-api)`,
		Example: `  gatehouse token keygen --out signing.pem
  gatehouse token --key signing.pem --sub alice --roles admin,user --aud orders-api --ttl 15m
  gatehouse token jwks --key signing.pem > jwks.json
  gatehouse token --secret-env HS_SECRET --alg HS256 --iss legacy --sub bob`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := mintToken(&f, time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.key, "key", "", "private key file (PEM or JWK)")
	fl.StringVar(&f.secretEnv, "secret-env", "", "environment variable holding the HS* shared secret (instead of --key)")
	fl.StringVar(&f.sub, "sub", "test-user", "subject (sub)")
	fl.StringSliceVar(&f.roles, "roles", nil, "roles (roles claim), comma-separated")
	fl.StringSliceVar(&f.scopes, "scopes", nil, "scopes (scope claim, space-joined), comma-separated")
	fl.DurationVar(&f.ttl, "ttl", time.Hour, "lifetime (exp = now + ttl)")
	fl.BoolVar(&f.noExp, "no-exp", false, "omit exp (the gateway rejects it unless require_exp is false)")
	fl.StringVar(&f.aud, "aud", "", "audience (aud)")
	fl.StringVar(&f.iss, "iss", "gatehouse", "issuer (iss)")
	fl.StringVar(&f.kid, "kid", "", "key ID header (default: the key's kid or thumbprint)")
	fl.StringVar(&f.alg, "alg", "", "signing algorithm (default: from the key type)")
	fl.StringVar(&f.jti, "jti", "", "token ID (default: random)")
	fl.StringArrayVar(&f.claims, "claim", nil, "extra claim NAME=VALUE (VALUE parsed as JSON when it is valid JSON), repeatable")
	cmd.AddCommand(newTokenJWKSCmd(), newTokenKeygenCmd())
	return cmd
}

// loadSigningKey reads the first key of a PEM/JWK file, with the kid the
// gateway would give it.
func loadSigningKey(path string) (jwk.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	set, err := jwt.ParseKeys(b)
	if err != nil {
		return nil, err
	}
	if set.Len() == 0 {
		return nil, errors.New("no key in file")
	}
	k, _ := set.Key(0)
	return k, nil
}

// defaultAlg picks the algorithm for a key type.
func defaultAlg(k jwk.Key) (string, error) {
	if a, ok := k.Algorithm(); ok && a.String() != "" {
		return a.String(), nil
	}
	var raw any
	if err := jwk.Export(k, &raw); err != nil {
		return "", fmt.Errorf("export key: %w", err)
	}
	switch r := raw.(type) {
	case *rsa.PrivateKey:
		return "RS256", nil
	case *ecdsa.PrivateKey:
		switch r.Curve {
		case elliptic.P256():
			return "ES256", nil
		case elliptic.P384():
			return "ES384", nil
		case elliptic.P521():
			return "ES512", nil
		}
	case ed25519.PrivateKey:
		return "EdDSA", nil
	case []byte:
		return "HS256", nil
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return "", errors.New("this is a public key: minting needs the private key")
	}
	return "", fmt.Errorf("unsupported key type %T", raw)
}

// hmacSecretLen is the shortest shared secret the gateway accepts for an HS*
// algorithm: the hash output length (RFC 7518 section 3.2), 0 for the others.
func hmacSecretLen(alg string) int {
	switch strings.ToUpper(alg) {
	case "HS256":
		return 32
	case "HS384":
		return 48
	case "HS512":
		return 64
	}
	return 0
}

func mintToken(f *tokenFlags, now time.Time) (string, error) {
	var key jwk.Key
	var err error
	switch {
	case f.key != "" && f.secretEnv != "":
		return "", errors.New("use --key or --secret-env, not both")
	case f.key != "":
		if key, err = loadSigningKey(f.key); err != nil {
			return "", err
		}
	case f.secretEnv != "":
		s := os.Getenv(f.secretEnv)
		if len(s) < jwt.MinHMACSecret {
			return "", fmt.Errorf("$%s must hold a secret of at least %d bytes", f.secretEnv, jwt.MinHMACSecret)
		}
		if key, err = jwk.Import([]byte(s)); err != nil {
			return "", fmt.Errorf("import secret: %w", err)
		}
	default:
		return "", errors.New("--key FILE (or --secret-env NAME for HS*) is required; `gatehouse token keygen` makes a key")
	}
	if f.kid != "" {
		if err := key.Set(jwk.KeyIDKey, f.kid); err != nil {
			return "", err
		}
	}
	alg := f.alg
	if alg == "" {
		if alg, err = defaultAlg(key); err != nil {
			return "", err
		}
	}
	if strings.EqualFold(alg, "none") {
		return "", errors.New("alg none is not supported")
	}
	if n := hmacSecretLen(alg); n > 0 {
		var raw []byte
		if err := jwk.Export(key, &raw); err != nil {
			return "", fmt.Errorf("%s needs a shared secret (--secret-env or an oct JWK): %w", alg, err)
		}
		if len(raw) < n {
			return "", fmt.Errorf("%s needs a shared secret of at least %d bytes (the hash length), got %d", strings.ToUpper(alg), n, len(raw))
		}
	}
	jti := f.jti
	if jti == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		jti = hex.EncodeToString(b[:])
	}
	c := map[string]any{"iss": f.iss, "sub": f.sub, "iat": now.Unix(), "jti": jti}
	if !f.noExp {
		if f.ttl <= 0 {
			return "", errors.New("--ttl must be positive")
		}
		c["exp"] = now.Add(f.ttl).Unix()
	}
	if f.aud != "" {
		c["aud"] = f.aud
	}
	if len(f.roles) > 0 {
		c["roles"] = f.roles
	}
	if len(f.scopes) > 0 {
		c["scope"] = strings.Join(f.scopes, " ")
	}
	for _, kv := range f.claims {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			return "", fmt.Errorf("--claim %q: want NAME=VALUE", kv)
		}
		var v any
		if json.Unmarshal([]byte(val), &v) != nil {
			v = val
		}
		c[name] = v
	}
	return jwt.Mint(c, alg, key)
}

func newTokenJWKSCmd() *cobra.Command {
	var keys []string
	cmd := &cobra.Command{
		Use:   "jwks --key FILE [--key FILE...]",
		Short: "Print the public JWKS of local keys (private halves are never printed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(keys) == 0 {
				return errors.New("--key is required")
			}
			out, err := publicJWKS(keys)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), string(out))
			return err
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "key file (PEM or JWK), repeatable")
	return cmd
}

func publicJWKS(paths []string) ([]byte, error) {
	set := jwk.NewSet()
	for _, p := range paths {
		k, err := loadSigningKey(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if k.KeyType().String() == "oct" {
			return nil, fmt.Errorf("%s: a symmetric key has no public half", p)
		}
		pub, err := k.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("%s: public key: %w", p, err)
		}
		if err := set.AddKey(pub); err != nil {
			return nil, err
		}
	}
	return json.MarshalIndent(set, "", "  ")
}

func newTokenKeygenCmd() *cobra.Command {
	var alg, out string
	cmd := &cobra.Command{
		Use:   "keygen --out FILE [--alg EdDSA|ES256|RS256]",
		Short: "Generate a private signing key (PEM, mode 0600) and print the matching issuer config",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			var raw any
			var err error
			switch alg {
			case "EdDSA":
				_, raw, err = ed25519.GenerateKey(rand.Reader)
			case "ES256":
				raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			case "RS256":
				raw, err = rsa.GenerateKey(rand.Reader, 3072)
			default:
				return fmt.Errorf("--alg must be EdDSA, ES256 or RS256, not %q", alg)
			}
			if err != nil {
				return fmt.Errorf("generate key: %w", err)
			}
			k, err := jwk.Import(raw)
			if err != nil {
				return err
			}
			pem, err := jwk.Pem(k)
			if err != nil {
				return err
			}
			fh, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("write key: %w", err)
			}
			if _, err := fh.Write(pem); err != nil {
				fh.Close()
				return fmt.Errorf("write key: %w", err)
			}
			if err := fh.Close(); err != nil {
				return err
			}
			kid, _ := jwt.KeyID(k)
			_, err = fmt.Fprintf(cmd.OutOrStdout(), `# wrote %s (kid %s); keep it secret. Gateway config:
authn:
  jwt:
    - issuer: gatehouse
      keys: [%s]
      audiences: [my-api]
      algorithms: [%s]
# then: gatehouse token --key %s --aud my-api --sub alice
`, out, kid, out, alg, out)
			return err
		},
	}
	cmd.Flags().StringVar(&alg, "alg", "EdDSA", "key algorithm: EdDSA, ES256 or RS256")
	cmd.Flags().StringVar(&out, "out", "", "private key file to create (refuses to overwrite)")
	return cmd
}
