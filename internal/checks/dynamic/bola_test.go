package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/internal/checks/dynamic"
)

func TestBOLA(t *testing.T) {
	expect(t, dynamic.BOLA{}, vuln{BOLA: true}, "getUser|user_id", "updateUser|user_id", "getNote|note_id")
	t.Run("public resource is not BOLA", func(t *testing.T) {
		if fs := scanToy(t, vuln{NoAuth: true}, dynamic.BOLA{}); len(fs) != 0 {
			t.Errorf("BOLA reported on a resource anonymous callers can read: %+v", fs)
		}
	})
}
