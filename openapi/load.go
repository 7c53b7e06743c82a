package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/index"
)

// ErrInvalidSpec is wrapped by every Load/LoadBytes error caused by the
// document itself (syntax, unresolvable $ref, duplicate operationId,
// unsupported path template), as opposed to an I/O error.
var ErrInvalidSpec = errors.New("invalid openapi document")

// Load reads the OpenAPI 3.0/3.1 or Swagger 2.0 document at path (YAML or
// JSON) and indexes it. Relative $refs to other local files are resolved
// against the file's directory; remote (http) $refs are never fetched.
func Load(path string) (*Spec, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load spec %q: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, fmt.Errorf("load spec %q: %w", path, err)
	}
	s, err := load(data, path, abs)
	if err != nil {
		return nil, fmt.Errorf("load spec %q: %w", path, err)
	}
	return s, nil
}

// LoadBytes indexes an in-memory document. name is used in error messages
// and as Spec.Path; references to other files are not followed (there is no
// base directory), so the document must be self-contained.
func LoadBytes(data []byte, name string) (*Spec, error) {
	s, err := load(data, name, "")
	if err != nil {
		return nil, fmt.Errorf("load spec %q: %w", name, err)
	}
	return s, nil
}

func docConfig(absPath string) *datamodel.DocumentConfiguration {
	cfg := datamodel.NewDocumentConfiguration()
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.AllowRemoteReferences = false
	// Recursive schemas are legal OpenAPI (trees, linked lists); they are
	// reported by libopenapi but do not stop the model from being built.
	cfg.IgnorePolymorphicCircularReferences = true
	cfg.IgnoreArrayCircularReferences = true
	// Load cost (bench/specload): checkDocument already refuses every
	// $ref cycle that cannot be validated, before and after the model is
	// built, so libopenapi's own circular-reference walk (a quarter of the
	// allocations on the DigitalOcean spec) is skipped; nothing in
	// gatehouse reads its diagnostic metadata (descriptions, enums...).
	cfg.SkipCircularReferenceCheck = true
	cfg.SkipMetadataCollection = true
	if absPath != "" {
		cfg.BasePath = filepath.Dir(absPath)
		cfg.SpecFilePath = absPath
		cfg.AllowFileReferences = true
	}
	return cfg
}

// load builds the Spec. name is for Spec.Path; absPath ("" for bytes)
// enables local file references.
func load(data []byte, name, absPath string) (s *Spec, err error) {
	before := allocated()
	// libopenapi and its YAML parser are large; a panic on a hostile or
	// broken document must become an error, never crash the gateway.
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("%w: parser panic: %v", ErrInvalidSpec, r)
		}
	}()
	if len(data) > MaxSpecBytes {
		return nil, fmt.Errorf("%w: %w: %d bytes, more than %d", ErrInvalidSpec, ErrTooLarge, len(data), MaxSpecBytes)
	}
	doc, err := libopenapi.NewDocumentWithConfiguration(data, docConfig(absPath))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	// Before anything follows $refs recursively (BuildV3Model, the 2.0
	// converter): a ref loop there is a stack overflow that no recover()
	// catches, in a goroutine libopenapi starts itself.
	if err := checkDocument(doc, name, absPath); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	info := doc.GetSpecInfo()
	s = &Spec{Path: name, Version: info.Version, file: absPath, root: info.RootNode}
	if info.SpecFormat == datamodel.OAS2 {
		prepared, warns, err := prepareV2(data, name)
		if err != nil {
			return nil, fmt.Errorf("%w: swagger 2.0: %w", ErrInvalidSpec, err)
		}
		s.Warnings = append(s.Warnings, warns...)
		converted, err := convertV2(prepared)
		if err != nil {
			return nil, fmt.Errorf("%w: convert swagger 2.0: %w", ErrInvalidSpec, err)
		}
		doc, err = libopenapi.NewDocumentWithConfiguration(converted, docConfig(absPath))
		if err != nil {
			return nil, fmt.Errorf("%w: converted swagger 2.0: %w", ErrInvalidSpec, err)
		}
	}
	model, err := doc.BuildV3Model()
	if model == nil || fatalModelErr(err) {
		if err == nil {
			err = errors.New("no openapi 3 model could be built")
		}
		if e := missingRefFile(doc, name, absPath); e != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, e)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, locateErrs(err))
	}
	if doc.GetRolodex() != nil && len(doc.GetRolodex().GetIndexes()) > 0 {
		if err := checkDocument(doc, name, absPath); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
		}
	}
	s.doc = doc
	s.model = &model.Model
	if s.root == nil {
		s.root = doc.GetSpecInfo().RootNode
	}
	if err := s.index(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	if allocated()-before > collectAbove {
		collect()
	}
	return s, nil
}

// A load that allocated more than collectAbove bytes (parsing, indexing
// and building a large document: about 200 MB for the 2,900-file
// DigitalOcean spec, for a model of 120 MB) is followed by one garbage
// collection. Without it the load's garbage is still on the heap when the
// caller compiles its stages on top of the model, and the heap grows to
// twice the model before the collector runs: the peak memory of loading
// DigitalOcean fell from 250-262 to 237-240 MiB with it, for about 0.1 s
// of CPU (issue 18, docs/spec-model.md). Small documents never pay it.
var (
	collectAbove uint64 = 64 << 20
	collect             = runtime.GC
)

// allocated returns the bytes the process has allocated so far.
func allocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// fatalModelErr reports whether a BuildV3Model error is more than circular
// reference warnings.
func fatalModelErr(err error) bool {
	if err == nil {
		return false
	}
	for _, e := range unwrapAll(err) {
		var re *index.ResolvingError
		if errors.As(e, &re) && re.CircularReference != nil {
			continue
		}
		return true
	}
	return false
}

// locateErrs rewrites libopenapi indexing/resolving errors so that each
// one carries its JSON path and line:column (libopenapi keeps them in fields
// that its Error method drops). Circular-reference warnings are dropped.
func locateErrs(err error) error {
	var out []error
	for _, e := range unwrapAll(err) {
		var ie *index.IndexingError
		var re *index.ResolvingError
		switch {
		case errors.As(e, &ie) && ie.Node != nil:
			out = append(out, fmt.Errorf("%w (at %s, line %d col %d)", e, ie.Path, ie.Node.Line, ie.Node.Column))
		case errors.As(e, &re) && re.CircularReference != nil:
		case errors.As(e, &re) && re.Node != nil:
			out = append(out, fmt.Errorf("%w (at %s, line %d col %d)", e, re.Path, re.Node.Line, re.Node.Column))
		default:
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	return []error{err}
}

// convertV2 converts a Swagger 2.0 document (YAML or JSON) to OpenAPI 3.0
// JSON with kin-openapi, so the rest of gatehouse sees one model.
func convertV2(data []byte) ([]byte, error) {
	var d2 openapi2.T
	if err := openapi2.UnmarshalFromData(data, &d2); err != nil {
		return nil, err
	}
	d3, err := openapi2conv.ToV3(&d2)
	if err != nil {
		return nil, err
	}
	return json.Marshal(d3)
}

// httpMethods is the fixed order in which a path item's operations are listed.
var httpMethods = []string{"GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "QUERY"}

func pathItemOp(pi *v3.PathItem, method string) *v3.Operation {
	switch method {
	case "GET":
		return pi.Get
	case "PUT":
		return pi.Put
	case "POST":
		return pi.Post
	case "DELETE":
		return pi.Delete
	case "OPTIONS":
		return pi.Options
	case "HEAD":
		return pi.Head
	case "PATCH":
		return pi.Patch
	case "TRACE":
		return pi.Trace
	case "QUERY":
		return pi.Query
	}
	return nil
}

// index fills Operations, the operation-ID index and the router.
func (s *Spec) index() error {
	s.byID = map[string]*Operation{}
	var errs []error
	if Model(s).Paths != nil && Model(s).Paths.PathItems != nil {
		for tmpl, pi := range Model(s).Paths.PathItems.FromOldest() {
			if pi == nil {
				continue
			}
			for _, m := range httpMethods {
				op := pathItemOp(pi, m)
				if op == nil {
					continue
				}
				o := &Operation{
					ID:       op.OperationId,
					Method:   m,
					Template: tmpl,
					Tags:     op.Tags,
					Pointer:  "/paths/" + escapePointer(tmpl) + "/" + strings.ToLower(m),
					pathItem: pi,
					op:       op,
					params:   mergeParams(pi.Parameters, op.Parameters),
				}
				if o.ID != "" {
					o.HasOperationID = true
				} else {
					o.ID = m + " " + tmpl
				}
				if prev, dup := s.byID[o.ID]; dup {
					errs = append(errs, fmt.Errorf("%s: operationId %q already used by %s %s",
						s.where(o.Pointer+"/operationId"), o.ID, prev.Method, prev.Template))
					continue
				}
				s.byID[o.ID] = o
				s.Operations = append(s.Operations, o)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r, err := newRouter(s)
	if err != nil {
		return err
	}
	s.router = r
	return nil
}

// mergeParams returns the path-item parameters overridden by operation
// parameters with the same name and location, path-item ones first.
func mergeParams(pathLevel, opLevel []*v3.Parameter) []*v3.Parameter {
	out := make([]*v3.Parameter, 0, len(pathLevel)+len(opLevel))
	for _, p := range pathLevel {
		if p == nil {
			continue
		}
		overridden := false
		for _, q := range opLevel {
			if q != nil && q.Name == p.Name && strings.EqualFold(q.In, p.In) {
				overridden = true
				break
			}
		}
		if !overridden {
			out = append(out, p)
		}
	}
	for _, q := range opLevel {
		if q != nil {
			out = append(out, q)
		}
	}
	return out
}

// escapePointer escapes one JSON pointer reference token (RFC 6901).
// It is called for every mapping key of every file by the ref-graph scan:
// the common case (no '~' or '/') allocates nothing, and the Replacer is
// built once (building one per call was 325 MB of garbage on the OpenAI spec).
func escapePointer(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return pointerEscaper.Replace(tok)
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func unescapePointer(tok string) string {
	if !strings.Contains(tok, "~") {
		return tok // the common case: no Replacer (building one per token dominated Position)
	}
	return pointerUnescaper.Replace(tok)
}

var pointerUnescaper = strings.NewReplacer("~1", "/", "~0", "~")

// Operation returns the operation with the given ID (operationId, or
// "METHOD /template" when the spec has none), or nil.
func (s *Spec) Operation(id string) *Operation {
	if s == nil {
		return nil
	}
	return s.byID[id]
}

// where formats "file:line:col" (or "file#pointer") for error messages.
func (s *Spec) where(pointer string) string {
	file, line, col := s.Position(pointer)
	if file == "" {
		file = s.Path
	}
	if line > 0 {
		return fmt.Sprintf("%s:%d:%d", file, line, col)
	}
	return file + "#" + pointer
}
