// Package testutil holds test helpers shared across packages.
package testutil

import (
	"os"
	"testing"
)

// RedisURL returns the URL of the real Redis server for integration tests,
// from GATEHOUSE_TEST_REDIS (e.g. "redis://127.0.0.1:6391/0"). Without it the
// test is skipped, unless GATEHOUSE_REQUIRE_REDIS=1 (set by .ci/run), in which
// case it fails: CI must never skip a Redis test silently.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("GATEHOUSE_TEST_REDIS")
	if u == "" {
		if os.Getenv("GATEHOUSE_REQUIRE_REDIS") == "1" {
			t.Fatal("GATEHOUSE_TEST_REDIS is not set but GATEHOUSE_REQUIRE_REDIS=1")
		}
		t.Skip("GATEHOUSE_TEST_REDIS not set: this test needs a real Redis (export GATEHOUSE_TEST_REDIS=redis://127.0.0.1:6379/0; .ci/run starts one)")
	}
	return u
}
