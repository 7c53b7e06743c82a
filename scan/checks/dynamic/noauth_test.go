package dynamic_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestNoAuth(t *testing.T) {
	t.Run("no credentials", func(t *testing.T) { expect(t, dynamic.NoAuth{}, vuln{NoAuth: true}, "getUser|") })
	t.Run("garbage token", func(t *testing.T) {
		expect(t, dynamic.NoAuth{}, vuln{AnyToken: true}, "listUsers|", "searchUsers|", "getUser|", "updateUser|", "createNote|", "getNote|",
			"findUsers|", "createOrg|", "listProjects|", "getProject|")
	})
}
