package scan

import (
	"bytes"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/openapi"
)

// TestFileFields: which multipart fields go out as file parts, and with
// which Content-Type, in 3.0 and 3.1 spellings; then the parts themselves.
func TestFileFields(t *testing.T) {
	const spec = `openapi: 3.1.0
info: { title: files, version: "1" }
paths:
  /docs:
    post:
      operationId: upload
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                raw: { type: string, format: binary }
                pdf: { type: string, contentMediaType: application/pdf }
                photos: { type: array, items: { type: string, format: binary } }
                note: { type: string }
                size: { type: integer }
                b64: { type: string, format: byte }
            encoding:
              photos: { contentType: "image/png, image/jpeg" }
      responses:
        "201": { description: ok }
`
	s, err := openapi.LoadBytes([]byte(spec), "files.yaml")
	if err != nil {
		t.Fatal(err)
	}
	mt := openapi.Op(s.Operations[0]).RequestBody.Content.GetOrZero("multipart/form-data")
	got := fileFields(schemaOf(mt.Schema), mt)
	want := map[string]string{"raw": "application/octet-stream", "pdf": "application/pdf", "photos": "image/png"}
	if !maps.Equal(got, want) {
		t.Fatalf("fileFields = %v, want %v", got, want)
	}

	body, boundary := multipartBody(map[string]any{"raw": "R", "photos": []any{"P1", "P2"}, "note": "N"}, got)
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []string
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		parts = append(parts, p.FormName()+"|"+params["filename"]+"|"+p.Header.Get("Content-Type")+"|"+string(b))
	}
	wantParts := []string{
		"note|||N",
		"photos|ghscan.txt|image/png|P1",
		"photos|ghscan.txt|image/png|P2",
		"raw|ghscan.txt|application/octet-stream|R",
	}
	if !slices.Equal(parts, wantParts) {
		t.Errorf("parts:\n%q\nwant\n%q", parts, wantParts)
	}
}
