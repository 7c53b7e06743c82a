package dynamic_test

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/scan"
	"github.com/gatehouse/gatehouse/scan/checks/dynamic"
)

func TestPlainHTTP(t *testing.T) {
	spec := toySpec(t)
	for _, tc := range []struct {
		base string
		want bool
	}{
		{"http://api.example.com", true},
		{"http://10.0.0.5:8080", true},
		{"HTTP://api.example.com/v1", true},
		{"http://127.0.0.1:5000", false},
		{"http://localhost:8080", false},
		{"http://[::1]:8080", false},
		{"http://app.localhost", false},
		{"https://api.example.com", false},
	} {
		t.Run(tc.base, func(t *testing.T) {
			tg, err := scan.NewTarget(spec, tc.base, nil, scan.NewClient(scan.ClientOptions{Budget: 1}), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []scan.Finding
			if err := (dynamic.PlainHTTP{}).Run(context.Background(), tg, func(f scan.Finding) { got = append(got, f) }); err != nil {
				t.Fatal(err)
			}
			if (len(got) > 0) != tc.want {
				t.Errorf("findings %+v, want finding %v", got, tc.want)
			}
		})
	}
}
