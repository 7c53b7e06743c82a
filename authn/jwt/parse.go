package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/authn"
)

// MaxTokenSize is the largest token accepted, checked before any decoding.
const MaxTokenSize = 8 << 10

// forbiddenHeaders are JOSE header parameters that would let the token name
// its own key (jku, x5u, jwk, x5c) or change how it must be processed (crit,
// b64). Gatehouse never trusts or fetches them; their mere presence rejects
// the token.
var forbiddenHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit", "b64"}

// header is the part of the JOSE header gatehouse acts on.
type header struct {
	Alg string
	Kid string
}

// parsed is a compact JWS split and decoded, before any signature check.
type parsed struct {
	header  header
	payload []byte // decoded JSON
}

// parse is the attacker-facing front of token processing: it bounds size and
// segment count, decodes the header strictly (unpadded base64url, a JSON
// object without duplicate keys, "alg" a string, no forbidden parameters) and
// decodes the payload to a JSON object. It never verifies anything; see
// Issuer.verify. Errors are authn failures carrying a reason.
func parse(token string) (*parsed, error) {
	if len(token) > MaxTokenSize {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("token is %d bytes, over %d", len(token), MaxTokenSize))
	}
	if n := strings.Count(token, "."); n != 2 {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("token has %d segments, want 3", n+1))
	}
	h64, rest, _ := strings.Cut(token, ".")
	p64, sig64, _ := strings.Cut(rest, ".")
	if h64 == "" || p64 == "" {
		return nil, authn.Fail(authn.ReasonMalformed, errors.New("empty header or payload segment"))
	}
	hb, err := b64(h64)
	if err != nil {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("header: %w", err))
	}
	fields, err := decodeObject(hb)
	if err != nil {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("header: %w", err))
	}
	var h header
	rawAlg, ok := fields["alg"]
	if !ok {
		return nil, authn.Fail(authn.ReasonMalformed, errors.New("header has no alg"))
	}
	if err := json.Unmarshal(rawAlg, &h.Alg); err != nil {
		return nil, authn.Fail(authn.ReasonMalformed, errors.New("header alg is not a string"))
	}
	if strings.EqualFold(strings.TrimSpace(h.Alg), "none") {
		return nil, authn.Fail(authn.ReasonAlgNone, fmt.Errorf("alg %q", h.Alg))
	}
	for _, f := range forbiddenHeaders {
		if _, ok := fields[f]; ok {
			return nil, authn.Fail(authn.ReasonForbiddenHeader, fmt.Errorf("header carries %q", f))
		}
	}
	if raw, ok := fields["kid"]; ok {
		if err := json.Unmarshal(raw, &h.Kid); err != nil {
			return nil, authn.Fail(authn.ReasonMalformed, errors.New("header kid is not a string"))
		}
	}
	if sig64 == "" {
		return nil, authn.Fail(authn.ReasonMalformed, errors.New("signature stripped"))
	}
	if _, err := b64(sig64); err != nil {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("signature: %w", err))
	}
	pb, err := b64(p64)
	if err != nil {
		return nil, authn.Fail(authn.ReasonMalformed, fmt.Errorf("payload: %w", err))
	}
	return &parsed{header: h, payload: pb}, nil
}

var strictB64 = base64.RawURLEncoding.Strict()

func b64(s string) ([]byte, error) {
	return strictB64.DecodeString(s)
}

// decodeObject decodes a JSON object into its members, rejecting duplicate
// member names (where parsers disagree on which copy wins) and trailing data.
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not json: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a json object")
	}
	out := make(map[string]json.RawMessage, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("bad json: %w", err)
		}
		k, _ := tok.(string)
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("duplicate member %q", k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("bad json: %w", err)
		}
		out[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("bad json: %w", err)
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("trailing data after json object")
	}
	return out, nil
}

// peekIssuer returns the unverified "iss" of a payload and whether the
// member is present at all (a non-string iss is present and reads as ""),
// only to choose which issuer's keys to verify it with.
func peekIssuer(payload []byte) (string, bool) {
	var v struct {
		Iss json.RawMessage `json:"iss"`
	}
	_ = json.Unmarshal(payload, &v)
	if v.Iss == nil {
		return "", false
	}
	var iss string
	_ = json.Unmarshal(v.Iss, &iss)
	return iss, true
}
