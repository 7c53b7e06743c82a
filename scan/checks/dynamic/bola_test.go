package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestBOLA(t *testing.T) {
	expect(t, dynamic.BOLA{}, vuln{BOLA: true}, "getUser|user_id", "updateUser|user_id", "getNote|note_id")
	t.Run("public resource is not BOLA", func(t *testing.T) {
		if fs := scanToy(t, vuln{NoAuth: true}, dynamic.BOLA{}); len(fs) != 0 {
			t.Errorf("BOLA reported on a resource anonymous callers can read: %+v", fs)
		}
	})
}

// A nested resource whose handler checks that the project belongs to the org
// but not that the caller belongs to the org: project IDs are only listed
// (seen, never owned), so the parent org_id is the parameter to swap. The
// list of an org's projects is the same blunder on a one-parameter path.
func TestBOLANestedParent(t *testing.T) {
	expect(t, dynamic.BOLA{}, vuln{NestedBOLA: true}, "listProjects|org_id", "getProject|org_id")
}
