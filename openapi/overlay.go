package openapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/jsonpath/pkg/jsonpath"
	jpconfig "github.com/pb33f/jsonpath/pkg/jsonpath/config"
	"github.com/pb33f/libopenapi"
	highoverlay "github.com/pb33f/libopenapi/datamodel/high/overlay"
	"github.com/pb33f/libopenapi/overlay"
)

// OpenAPI Overlay support (https://spec.openapis.org/overlay/v1.0.0): the
// operator's overlay documents are applied to the spec bytes before the
// loader parses them, by libopenapi's overlay engine (libopenapi/overlay);
// this file only parses, bounds, counts and locates. The effective spec is
// built once per load or reload, so overlays cost nothing per request.

// ErrInvalidOverlay is wrapped by every error caused by an overlay document
// (syntax, structure, a target that matches nothing, an update that does
// not fit its target) or by a per-operation edit that cannot be applied.
var ErrInvalidOverlay = errors.New("invalid overlay")

// Overlay limits. An overlay is operator input, but a broken or hostile one
// must give an error, never exhaust the gateway's memory.
const (
	// MaxOverlayBytes bounds one overlay file.
	MaxOverlayBytes = 4 << 20
	// MaxOverlayActions bounds the actions of one overlay.
	MaxOverlayActions = 10000
	// maxOverlayGrowth bounds the YAML nodes one overlay may add
	// (matched targets times the size of the update or copied node),
	// estimated on the document before that overlay's actions.
	maxOverlayGrowth = 1 << 20
	// maxRefChain bounds $ref hops followed when inlining a schema for a
	// per-operation constraint.
	maxRefChain = 32
)

// Overlay is one parsed OpenAPI Overlay 1.x document, ready to apply. It is
// immutable after ParseOverlay and safe for concurrent use.
type Overlay struct {
	// Name is the overlay's file name (or a label) used in messages.
	Name string

	doc *highoverlay.Overlay
	// where locates each action (by identity) for error messages:
	// "file:line:col" of its target, or a config key path for edits.
	where map[*highoverlay.Action]string
	// edits marks an overlay built from per-operation config edits; its
	// errors are *EditError values.
	edits bool
}

// Actions returns the number of actions in the overlay.
func (o *Overlay) Actions() int { return len(o.doc.Actions) }

// OverlayReport summarizes what a set of overlays changed.
type OverlayReport struct {
	// Files is the number of overlay documents applied (per-operation
	// config edits count as one when there are any).
	Files int
	// Actions is the number of actions applied.
	Actions int
	// Changed is the number of document nodes the actions' targets matched
	// (each updated, removed or copied into once).
	Changed int
}

// String formats r as "2 files, 7 actions, 12 nodes changed".
func (r *OverlayReport) String() string {
	if r == nil {
		return "0 files, 0 actions, 0 nodes changed"
	}
	return fmt.Sprintf("%d %s, %d %s, %d %s changed",
		r.Files, plural(r.Files, "file", "files"), r.Actions, plural(r.Actions, "action", "actions"),
		r.Changed, plural(r.Changed, "node", "nodes"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// EditError is an error in a per-operation edit (OperationEdit); Source is
// the edit's config key path ("routes.getUser.constraints./title").
type EditError struct {
	Source string
	Err    error
}

func (e *EditError) Error() string { return e.Source + ": " + e.Err.Error() }
func (e *EditError) Unwrap() error { return e.Err }

// ReadOverlay reads and parses the overlay file at path.
func ReadOverlay(path string) (*Overlay, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read overlay: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxOverlayBytes+1)); err != nil {
		return nil, fmt.Errorf("read overlay %q: %w", path, err)
	}
	return ParseOverlay(buf.Bytes(), path)
}

// ParseOverlay parses an OpenAPI Overlay 1.x document (YAML or JSON); name
// is used in messages. Every error wraps ErrInvalidOverlay and, when the
// problem has a place, starts with "name:line:col: ". YAML aliases are
// refused (an overlay has no use for them, and they are how a small file
// expands into a huge tree), as are files over MaxOverlayBytes and
// overlays with more than MaxOverlayActions actions.
func ParseOverlay(data []byte, name string) (ov *Overlay, err error) {
	defer func() {
		if r := recover(); r != nil {
			ov, err = nil, fmt.Errorf("%w: %s: parser panic: %v", ErrInvalidOverlay, name, r)
		}
	}()
	if len(data) > MaxOverlayBytes {
		return nil, fmt.Errorf("%w: %s: %d bytes, more than %d", ErrInvalidOverlay, name, len(data), MaxOverlayBytes)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidOverlay, name, err)
	}
	if len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %s:1:1: an overlay document must be a mapping", ErrInvalidOverlay, name)
	}
	if a := findAlias(&root, 0); a != nil {
		return nil, fmt.Errorf("%w: %s:%d:%d: yaml aliases are not allowed in an overlay", ErrInvalidOverlay, name, a.Line, a.Column)
	}
	top := root.Content[0]
	if acts := mapGet(top, "actions"); acts != nil && len(acts.Content) > MaxOverlayActions {
		return nil, fmt.Errorf("%w: %s:%d:%d: %d actions, more than %d", ErrInvalidOverlay, name, acts.Line, acts.Column, len(acts.Content), MaxOverlayActions)
	}
	doc, err := libopenapi.NewOverlayDocument(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s:%d:%d: %w", ErrInvalidOverlay, name, top.Line, top.Column, err)
	}
	ov = &Overlay{Name: name, doc: doc, where: map[*highoverlay.Action]string{}}
	for i, a := range doc.Actions {
		line, col := top.Line, top.Column
		if l := a.GoLow(); l != nil {
			switch {
			case l.Target.ValueNode != nil:
				line, col = l.Target.ValueNode.Line, l.Target.ValueNode.Column
			case l.RootNode != nil:
				line, col = l.RootNode.Line, l.RootNode.Column
			}
		}
		ov.where[a] = fmt.Sprintf("%s:%d:%d: actions[%d]", name, line, col, i)
	}
	if err := checkOverlayDoc(doc); err != nil {
		return nil, fmt.Errorf("%w: %s:%d:%d: %w", ErrInvalidOverlay, name, top.Line, top.Column, err)
	}
	for _, a := range doc.Actions {
		if a.Target == "" {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidOverlay, ov.where[a], overlay.ErrMissingTarget)
		}
		if _, err := newPath(a.Target); err != nil {
			return nil, fmt.Errorf("%w: %s: target %q: %w", ErrInvalidOverlay, ov.where[a], a.Target, err)
		}
	}
	return ov, nil
}

// checkOverlayDoc checks the required fields before anything is applied,
// so that a structural error is reported at parse time, not at the first
// load that uses the overlay. overlay.Apply checks them again.
func checkOverlayDoc(doc *highoverlay.Overlay) error {
	switch {
	case doc.Overlay == "":
		return overlay.ErrMissingOverlayField
	case !strings.HasPrefix(doc.Overlay, "1."):
		return fmt.Errorf("%w (got %q)", overlay.ErrUnsupportedVersion, doc.Overlay)
	case doc.Info == nil || doc.Info.Title == "" || doc.Info.Version == "":
		return overlay.ErrInvalidInfo
	case len(doc.Actions) == 0:
		return overlay.ErrEmptyActions
	}
	return nil
}

func newPath(target string) (*jsonpath.JSONPath, error) {
	return jsonpath.NewPath(target, jpconfig.WithPropertyNameExtension(), jpconfig.WithLazyContextTracking())
}

// findAlias returns the first alias node under n (depth-first), or nil.
func findAlias(n *yaml.Node, depth int) *yaml.Node {
	if n.Kind == yaml.AliasNode {
		return n
	}
	if depth > 10000 {
		return n // deeper than any real overlay: refuse like an alias
	}
	for _, c := range n.Content {
		if a := findAlias(c, depth+1); a != nil {
			return a
		}
	}
	return nil
}

// ApplyOverlays applies ovs in order to the spec document data (YAML or
// JSON) and returns the resulting YAML bytes with a report. A target that
// matches no node is an error (a stale overlay must not silently stop
// bounding a field), as is an update whose type does not fit its target;
// errors wrap ErrInvalidOverlay and name the overlay file, line and column
// of the action (or are *EditError for per-operation edits).
func ApplyOverlays(data []byte, ovs ...*Overlay) (out []byte, rep *OverlayReport, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, rep, err = nil, nil, fmt.Errorf("%w: overlay engine panic: %v", ErrInvalidOverlay, r)
		}
	}()
	rep = &OverlayReport{}
	for _, ov := range ovs {
		if ov == nil {
			continue
		}
		counts, err := ov.preflight(data)
		if err != nil {
			return nil, nil, err
		}
		res, err := overlay.Apply(data, ov.doc)
		if err != nil {
			var oe *overlay.OverlayError
			if errors.As(err, &oe) && oe.Action != nil {
				return nil, nil, ov.actionErr(oe.Action, oe.Cause)
			}
			return nil, nil, fmt.Errorf("%w: %s: %w", ErrInvalidOverlay, ov.Name, err)
		}
		// Warnings other than "matched zero nodes" (which preflight
		// already refused) are copy+update on one action: an error too.
		if len(res.Warnings) > 0 {
			w := res.Warnings[0]
			return nil, nil, ov.actionErr(w.Action, fmt.Errorf("target %q: %s", w.Target, w.Message))
		}
		if len(res.Bytes) > MaxSpecBytes {
			return nil, nil, fmt.Errorf("%w: %s: the overlaid spec is %d bytes, more than %d", ErrInvalidOverlay, ov.Name, len(res.Bytes), MaxSpecBytes)
		}
		data = res.Bytes
		rep.Files++
		rep.Actions += len(ov.doc.Actions)
		rep.Changed += counts
	}
	return data, rep, nil
}

// preflight parses the document as it is before ov and, per action,
// counts the nodes its target matches and estimates what it adds. It
// returns the total count. An action whose target matches nothing is an
// error here; so is one that would add more than maxOverlayGrowth nodes.
// An action that only matches nodes an earlier action of the same overlay
// adds counts as 1 (the engine's zero-match warning is the authority).
func (ov *Overlay) preflight(data []byte) (int, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return 0, fmt.Errorf("%w: %s: spec: %w", ErrInvalidOverlay, ov.Name, err)
	}
	total, growth := 0, 0
	for _, a := range ov.doc.Actions {
		p, err := newPath(a.Target)
		if err != nil {
			return 0, ov.actionErr(a, fmt.Errorf("target %q: %w", a.Target, err))
		}
		n := len(p.Query(&root))
		if n == 0 {
			if !ov.addsTargetOf(a) {
				return 0, ov.actionErr(a, fmt.Errorf("target %q matched zero nodes in the spec", a.Target))
			}
			n = 1
		}
		total += n
		size := 0
		switch {
		case a.Update != nil:
			size = countNodes(a.Update, 0)
		case a.Copy != "":
			if cp, err := newPath(a.Copy); err == nil {
				for _, src := range cp.Query(&root) {
					size += countNodes(src, 0)
				}
			}
		}
		growth += n * size
		if growth > maxOverlayGrowth {
			return 0, ov.actionErr(a, fmt.Errorf("the overlay would add more than %d nodes to the spec", maxOverlayGrowth))
		}
	}
	return total, nil
}

// addsTargetOf reports whether an action before a in ov updates or copies
// anything (so a's target may be a node that action creates). The engine
// still warns if the target matches nothing when a runs: that is an error.
func (ov *Overlay) addsTargetOf(a *highoverlay.Action) bool {
	for _, b := range ov.doc.Actions {
		if b == a {
			return false
		}
		if b.Update != nil || b.Copy != "" {
			return true
		}
	}
	return false
}

func countNodes(n *yaml.Node, depth int) int {
	if n == nil || depth > 10000 {
		return 1
	}
	c := 1
	for _, k := range n.Content {
		c += countNodes(k, depth+1)
	}
	return c
}

func (ov *Overlay) actionErr(a *highoverlay.Action, cause error) error {
	where, ok := ov.where[a]
	if !ok {
		where = ov.Name
	}
	if ov.edits {
		return &EditError{Source: where, Err: fmt.Errorf("%w: %w", ErrInvalidOverlay, cause)}
	}
	return fmt.Errorf("%w: %s: %w", ErrInvalidOverlay, where, cause)
}

// LoadWithOverlays reads the spec at path, applies the overlay files in
// order and then the per-operation edits (translated into one more overlay
// against the document the files produced), and loads the result like
// Load: relative $refs still resolve against the spec's directory. With no
// overlays and no edits it is Load with an empty report. Positions in the
// spec's warnings refer to the overlaid document, which is what the
// gateway enforces.
func LoadWithOverlays(path string, files []string, edits []OperationEdit) (*Spec, *OverlayReport, error) {
	if len(files) == 0 && len(edits) == 0 {
		s, err := Load(path)
		return s, &OverlayReport{}, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load spec %q: %w", path, err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, nil, fmt.Errorf("load spec %q: %w", path, err)
	}
	ovs := make([]*Overlay, 0, len(files)+1)
	for _, f := range files {
		ov, err := ReadOverlay(f)
		if err != nil {
			return nil, nil, err
		}
		ovs = append(ovs, ov)
	}
	orig := data
	data, rep, err := ApplyOverlays(data, ovs...)
	if err != nil {
		return nil, nil, err
	}
	if len(edits) > 0 {
		ov, err := EditsOverlay(data, edits)
		if err != nil {
			return nil, nil, err
		}
		if ov != nil {
			var erep *OverlayReport
			if data, erep, err = ApplyOverlays(data, ov); err != nil {
				return nil, nil, err
			}
			rep.Files += erep.Files
			rep.Actions += erep.Actions
			rep.Changed += erep.Changed
		}
	}
	s, err := load(data, path, abs)
	if err != nil {
		if len(edits) > 0 {
			if ov, _ := EditsOverlay(data, edits); ov != nil {
				ovs = append(ovs, ov)
			}
		}
		return nil, nil, blame(orig, path, abs, ovs, err)
	}
	return s, rep, nil
}

// blame explains a load error of the overlaid spec: it finds the first
// overlay, and in it the first action, after which the spec no longer
// loads, and names it (file:line:col, or the config key of an edit).
// It runs only on the error path: each step is a full load.
func blame(orig []byte, path, abs string, ovs []*Overlay, loadErr error) error {
	fails := func(ovs []*Overlay) bool {
		data, _, err := ApplyOverlays(orig, ovs...)
		if err != nil {
			return true
		}
		_, err = load(data, path, abs)
		return err != nil
	}
	plain := fmt.Errorf("load spec %q with overlays: %w", path, loadErr)
	if fails(nil) {
		return plain
	}
	for k, ov := range ovs {
		if !fails(ovs[:k+1]) {
			continue
		}
		lo, hi := 1, len(ov.doc.Actions)
		for lo < hi {
			mid := (lo + hi) / 2
			if fails(append(ovs[:k:k], ov.prefix(mid))) {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		return ov.actionErr(ov.doc.Actions[lo-1], fmt.Errorf("this action makes spec %q invalid: %w", path, loadErr))
	}
	return plain
}

// prefix is ov with only its first n actions.
func (ov *Overlay) prefix(n int) *Overlay {
	c := *ov
	d := *ov.doc
	d.Actions = ov.doc.Actions[:n]
	c.doc = &d
	return &c
}
