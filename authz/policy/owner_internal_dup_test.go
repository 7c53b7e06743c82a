package policy

import "testing"

// TestHasDuplicateKeysSentinels: duplicate keys are recognised by the
// sentinel errors (exact after unescaping, and case-folded), not by text.
func TestHasDuplicateKeysSentinels(t *testing.T) {
	for _, tt := range []struct {
		body    string
		dup     bool
		wantErr bool
	}{
		{`{"user_id":1,"user_id":2}`, true, false},
		{`{"user_id":1,"user\u005fid":2}`, true, false},
		{`{"user_id":1,"User_Id":2}`, true, false},
		{`{"a":{"b":1,"B":2}}`, true, false},
		{`{"user_id":1}`, false, false},
		{`{"user_id":1,}`, false, true},
	} {
		dup, err := hasDuplicateKeys([]byte(tt.body))
		if dup != tt.dup || (err != nil) != tt.wantErr {
			t.Errorf("hasDuplicateKeys(%s) = %v, %v; want %v, error %v", tt.body, dup, err, tt.dup, tt.wantErr)
		}
	}
}
