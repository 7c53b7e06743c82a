package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestExpiredToken(t *testing.T) {
	expect(t, dynamic.ExpiredToken{}, vuln{WeakSecret: true, NoExpCheck: true}, "listUsers|")
	t.Run("weak secret but expiry checked", func(t *testing.T) {
		if fs := scanToy(t, vuln{WeakSecret: true}, dynamic.ExpiredToken{}); len(fs) != 0 {
			t.Errorf("findings on an API that checks exp: %+v", fs)
		}
	})
}
