package gateway

import (
	"errors"
	"sort"

	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/openapi"
	"github.com/gatehouse/gatehouse/respfilter"
)

// loadSpec loads cfg.Spec with cfg.SpecOverlays applied in order, then the
// routes.<key> deny and constraints edits (translated into one more
// overlay). The result is built once per Build, so overlays cost nothing
// per request. Errors are located: an overlay's at spec_overlays (the
// message names the overlay file:line:col), an edit's at its routes key,
// the spec's at spec.
func loadSpec(cfg *config.Config) (*openapi.Spec, *openapi.OverlayReport, error) {
	s, rep, err := openapi.LoadWithOverlays(cfg.Spec, cfg.SpecOverlays, routeEdits(cfg))
	if err != nil {
		var ee *openapi.EditError
		switch {
		case errors.As(err, &ee):
			return nil, nil, config.AtPath(ee.Source, ee.Err)
		case errors.Is(err, openapi.ErrInvalidOverlay) || (len(cfg.SpecOverlays) > 0 && !errors.Is(err, openapi.ErrInvalidSpec)):
			return nil, nil, config.AtPath("spec_overlays", err)
		default:
			return nil, nil, config.AtPath("spec", err)
		}
	}
	return s, rep, nil
}

// routeEdits translates routes.<key>.deny and .constraints (sorted by key).
func routeEdits(cfg *config.Config) []openapi.OperationEdit {
	keys := make([]string, 0, len(cfg.Routes))
	for k, r := range cfg.Routes {
		if r.Deny || len(r.Constraints) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []openapi.OperationEdit
	for _, k := range keys {
		r := cfg.Routes[k]
		e := openapi.OperationEdit{Key: k, Source: "routes." + k, Deny: r.Deny}
		if !r.Deny {
			e.Constraints = map[string]openapi.FieldConstraint{}
			for f, c := range r.Constraints {
				e.Constraints[f] = openapi.FieldConstraint{
					MaxLength: c.MaxLength, MinLength: c.MinLength, Pattern: c.Pattern, Format: c.Format,
					Enum: c.Enum, Minimum: c.Minimum, Maximum: c.Maximum, MaxItems: c.MaxItems,
				}
			}
		}
		out = append(out, e)
	}
	return out
}

// OverlayNotes returns the overlay summary for `gatehouse validate`
// ("spec_overlays: overlays: 2 files, 7 actions, 12 nodes changed"),
// located at spec_overlays (or routes when only routes edits exist); nil
// when nothing was applied. The notes are not warnings.
func OverlayNotes(cfg *config.Config, p *Pipeline) []config.Problem {
	if p == nil || p.overlays == nil || p.overlays.Files == 0 {
		return nil
	}
	key := "spec_overlays"
	if len(cfg.SpecOverlays) == 0 {
		key = "routes"
	}
	line, col := cfg.Position(key)
	return []config.Problem{{Path: key, Msg: "overlays: " + p.overlays.String(), File: cfg.File, Line: line, Col: col}}
}

// Overlays returns what spec_overlays and routes edits changed (never nil).
func (p *Pipeline) Overlays() *openapi.OverlayReport {
	if p.overlays == nil {
		return &openapi.OverlayReport{}
	}
	return p.overlays
}

// addRouteMasks adds routes.<key>.mask to the response filter's
// per-operation options (keyed by the spec's operation ID).
func addRouteMasks(b *builder, ops map[string]respfilter.OperationOptions) {
	for key, r := range b.cfg.Routes {
		if len(r.Mask) == 0 || r.Deny {
			continue
		}
		op := findOperation(b.spec, key)
		if op == nil {
			continue // newRouteStage reports the unknown key
		}
		oo := ops[op.ID]
		oo.Mask = append(append([]string(nil), oo.Mask...), r.Mask...)
		ops[op.ID] = oo
	}
}
