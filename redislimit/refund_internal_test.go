package redislimit

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse/gatehouse/internal/testutil"
)

// TestRefundScript checks refund.lua directly: it subtracts T only while the
// stored TAT still contains our charge, and keeps the key's expiry.
func TestRefundScript(t *testing.T) {
	o, err := redis.ParseURL(testutil.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(o)
	defer c.Close()
	ctx := context.Background()
	// A random key: other test processes may share this Redis.
	key := "ghtest:refund:{" + rand.Text() + "}"
	t.Cleanup(func() { c.Del(ctx, key) })
	tests := []struct {
		name       string
		stored     string // "" = no key
		ours, T    int64
		wantRet    int64
		wantStored string
	}{
		{"ours is the latest charge", "5000", 5000, 1000, 1, "4000"},
		{"later charges on top", "9000", 5000, 1000, 1, "8000"},
		{"key re-created below our charge", "3000", 5000, 1000, 0, "3000"},
		{"key gone", "", 5000, 1000, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.Del(ctx, key)
			if tt.stored != "" {
				c.Set(ctx, key, tt.stored, 0)
				c.PExpire(ctx, key, time.Minute)
			}
			ret, err := refundScript.Run(ctx, c, []string{key}, tt.T, tt.ours).Int64()
			if err != nil || ret != tt.wantRet {
				t.Fatalf("refund = %d, %v; want %d", ret, err, tt.wantRet)
			}
			got, _ := c.Get(ctx, key).Result()
			if got != tt.wantStored {
				t.Fatalf("stored TAT %q, want %q", got, tt.wantStored)
			}
			if tt.stored != "" {
				if ttl := c.PTTL(ctx, key).Val(); ttl <= 0 {
					t.Fatalf("expiry lost: PTTL %v", ttl)
				}
			}
		})
	}
}
