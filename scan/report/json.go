package report

import (
	"encoding/json"
	"io"

	"github.com/gatehouse/gatehouse/scan"
)

// SchemaVersion is the version of the JSON report format; it changes only
// when a field is removed or changes meaning.
const SchemaVersion = 1

// JSON writes the Result as indented JSON (format in docs/scan.md).
type JSON struct{}

// Report implements Reporter.
func (JSON) Report(w io.Writer, r *scan.Result) error {
	out := struct {
		SchemaVersion int `json:"schema_version"`
		*scan.Result
	}{SchemaVersion, r}
	if out.Result.Findings == nil {
		cp := *r
		cp.Findings = []scan.Finding{}
		out.Result = &cp
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
