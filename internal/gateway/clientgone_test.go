package gateway

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// A client that hangs up while the upstream works is logged as 499 (client
// closed request) and counted under code 499, never as a 502 upstream
// failure: through the real listener, the client closing its connection.
func TestClientGoneLogged499(t *testing.T) {
	e := start(t, "")
	c, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: gw.test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-e.up.started
	c.Close()
	var line map[string]any
	deadline := time.Now().Add(10 * time.Second) // readiness of the log line, not timing under test
	for line == nil {
		for _, l := range e.logs.lines("request") {
			if l["path"] == "/slow" {
				line = l
			}
		}
		if line == nil {
			if time.Now().After(deadline) {
				t.Fatalf("no access log line for /slow: %s", e.logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if line["status"] != float64(499) {
		t.Errorf("access log status = %v, want 499: %v", line["status"], line)
	}
	if got := toFloat(e.srv.metrics.Requests.WithLabelValues("slow", "499")); got != 1 {
		t.Errorf(`requests_total{operation="slow",code="499"} = %v, want 1`, got)
	}
	if got := toFloat(e.srv.metrics.Requests.WithLabelValues("slow", "502")); got != 0 {
		t.Errorf(`requests_total{operation="slow",code="502"} = %v, want 0`, got)
	}
}
