package authn

import "errors"

// Failure reasons reported by the authenticators in this module. They go to
// the log and to the gatehouse_authn_failures_total{reason} metric, never to
// the client.
const (
	ReasonMalformed          = "malformed"           // not a well-formed credential (size, segments, encoding, JSON)
	ReasonMultipleTokens     = "multiple_tokens"     // more than one credential in one request
	ReasonAlgNone            = "alg_none"            // alg "none" in any letter case
	ReasonAlgNotAllowed      = "alg_not_allowed"     // alg not in the issuer's allowlist
	ReasonAlgKeyMismatch     = "alg_key_mismatch"    // alg does not fit the key type (RS/HS confusion)
	ReasonForbiddenHeader    = "forbidden_header"    // jku, x5u, jwk, x5c, crit or b64 header present
	ReasonUnknownKID         = "unknown_kid"         // no key with that kid, even after a refetch
	ReasonKeysUnavailable    = "keys_unavailable"    // the key set could not be loaded yet
	ReasonBadSignature       = "bad_signature"       // signature does not verify
	ReasonExpired            = "expired"             // exp in the past (beyond leeway)
	ReasonMissingExp         = "missing_exp"         // no exp and the issuer requires one
	ReasonNotYetValid        = "not_yet_valid"       // nbf in the future
	ReasonIssuedInFuture     = "issued_in_future"    // iat in the future
	ReasonLifetimeTooLong    = "lifetime_too_long"   // exp-iat (exp-now without iat) above max_token_lifetime
	ReasonWrongIssuer        = "wrong_issuer"        // iss is not a configured issuer
	ReasonWrongAudience      = "wrong_audience"      // aud does not name an accepted audience
	ReasonMissingSubject     = "missing_subject"     // no (or an empty) subject claim
	ReasonInvalidSubject     = "invalid_subject"     // subject claim not a string or an integer
	ReasonRevoked            = "revoked"             // jti or subject revoked
	ReasonRevocationError    = "revocation_error"    // revocation store failed (fail closed)
	ReasonUnknownKey         = "unknown_key"         // API key not found
	ReasonKeyExpired         = "key_expired"         // API key past its expiry
	ReasonStoreError         = "store_error"         // key store failed (fail closed)
	ReasonInvalidCredentials = "invalid_credentials" // an ErrInvalidCredentials without a reason
)

// failure is an ErrInvalidCredentials carrying a reason for logs and metrics.
type failure struct {
	reason string
	err    error
}

func (f *failure) Error() string {
	if f.err == nil {
		return "authn: invalid credentials: " + f.reason
	}
	return "authn: invalid credentials: " + f.reason + ": " + f.err.Error()
}

func (f *failure) Unwrap() []error {
	if f.err == nil {
		return []error{ErrInvalidCredentials}
	}
	return []error{ErrInvalidCredentials, f.err}
}

// Fail returns an error that wraps ErrInvalidCredentials (and err, when not
// nil) and carries reason, one of the Reason* constants. The reason and err
// are for the log; the client only ever sees a generic 401.
func Fail(reason string, err error) error {
	return &failure{reason: reason, err: err}
}

// Reason returns the failure reason carried by err (see Fail), or
// ReasonInvalidCredentials for any other error. It returns "" for nil.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var f *failure
	if errors.As(err, &f) {
		return f.reason
	}
	return ReasonInvalidCredentials
}
