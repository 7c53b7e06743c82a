package openapi

import "testing"

// TestCollectAfterLargeLoad: a load that allocates more than collectAbove
// is followed by one collection (the stages then compile on the model
// alone, not on the load's garbage); a small one is not.
func TestCollectAfterLargeLoad(t *testing.T) {
	oldAbove, oldCollect := collectAbove, collect
	t.Cleanup(func() { collectAbove, collect = oldAbove, oldCollect })
	n := 0
	collect = func() { n++ }
	doc := []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {'200': {description: ok}}\n")
	if _, err := LoadBytes(doc, "small.yaml"); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("small document: %d collections, want 0", n)
	}
	collectAbove = 0
	if _, err := LoadBytes(doc, "small.yaml"); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("above the threshold: %d collections, want 1", n)
	}
	if _, err := LoadBytes([]byte("openapi: 3.0.3\npaths: ["), "bad.yaml"); err == nil {
		t.Fatal("bad document loaded")
	}
	if n != 1 {
		t.Fatalf("a failed load collected (%d)", n)
	}
}
