package oasvalidate

import (
	"context"
	"sync"

	"github.com/pb33f/go-yaml"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	lowbase "github.com/pb33f/libopenapi/datamodel/low/base"
	"github.com/pb33f/libopenapi/index"
)

// RenderSchema returns the schema behind p, as p.Schema() does, but built
// outside the document: libopenapi keeps every schema it renders inside
// the proxy (and a $ref's target in its file's index) for the life of the
// document, and the shape compiler renders every schema reachable from an
// operation, which kept tens of MB alive on the 2,900-file DigitalOcean
// spec that the compiled Shapes do not need (see docs/spec-model.md).
// Render the children of the result with RenderSchema too (their own
// Schema method would store into the index's shared cache).
//
// Within a render session (BeginRender) each proxy is rendered once and
// shared by every compiler that asks, as libopenapi's cache would, and the
// renderings are dropped when the session ends; outside one, each call
// renders again. Proxies that need libopenapi's own view are rendered by
// p.Schema() as before (and stay cached in the document): a proxy built in
// memory without a low-level model, a 3.1 $ref with sibling keywords, and a
// schema that declares $id (its scope is part of the proxy's context).
//
// The result is read only. It is safe for concurrent use.
func RenderSchema(p *base.SchemaProxy) (*base.Schema, error) {
	if p == nil {
		return nil, nil
	}
	lp := p.GoLow()
	if lp == nil || lp.GetValueNode() == nil || p.IsTransformedRefWithSiblings() ||
		lp.IsTransformedRefWithSiblings() || index.FindSchemaIdInNode(lp.GetValueNode()) != "" {
		s := p.Schema()
		if s == nil {
			return nil, p.GetBuildError()
		}
		return s, nil
	}
	key := renderKey{lp.GetValueNode(), lp.GetContext(), lp.GetIndex()}
	if s, ok := renders.get(key); ok {
		return s, nil
	}
	// The same build libopenapi's proxy runs (transformation of sibling
	// refs, reference detection), on a proxy of our own.
	np := new(lowbase.SchemaProxy)
	if err := np.Build(lp.GetContext(), lp.GetKeyNode(), lp.GetValueNode(), lp.GetIndex()); err != nil {
		return nil, err
	}
	ls := np.Schema()
	if ls == nil {
		return nil, np.GetBuildError()
	}
	s := base.NewSchema(ls)
	renders.put(key, s)
	return s, nil
}

// BeginRender opens a render session (see RenderSchema) and returns the
// function that closes it; sessions nest, and the renderings are dropped
// when the last one closes. New, respfilter.New and the gateway's Build
// hold one, so that the request and response shape compilers render each
// schema once between them, as libopenapi's cache did.
func BeginRender() (end func()) {
	renders.mu.Lock()
	renders.open++
	if renders.cache == nil {
		renders.cache = map[renderKey]*base.Schema{}
	}
	renders.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			renders.mu.Lock()
			renders.open--
			if renders.open == 0 {
				renders.cache = nil
			}
			renders.mu.Unlock()
		})
	}
}

// renderKey is what a low-level proxy builds its schema from.
type renderKey struct {
	node *yaml.Node
	ctx  context.Context
	idx  *index.SpecIndex
}

var renders renderCache

type renderCache struct {
	mu    sync.Mutex
	open  int
	cache map[renderKey]*base.Schema // nil outside a session
}

func (c *renderCache) get(k renderKey) (*base.Schema, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.cache[k]
	return s, ok
}

func (c *renderCache) put(k renderKey, s *base.Schema) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache != nil {
		c.cache[k] = s
	}
}

// schemaID identifies a rendered schema for the shape compiler's memo: its
// YAML node (the same node is the same schema however it was reached and
// rendered), or the schema itself when it has none.
func schemaID(s *base.Schema) any {
	if l := s.GoLow(); l != nil && l.RootNode != nil {
		return l.RootNode
	}
	return s
}
