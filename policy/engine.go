package policy

import (
	"context"
	"sync/atomic"
)

// An Engine holds the policy set in force and swaps it atomically on
// reload. A decision in flight keeps the set it started with. The zero
// Engine is ready to use and denies everything until a set is loaded. An
// Engine is safe for concurrent use.
type Engine struct {
	cur atomic.Pointer[Set]
}

// NewEngine returns an Engine with s in force; s may be nil.
func NewEngine(s *Set) *Engine {
	e := &Engine{}
	if s != nil {
		e.cur.Store(s)
	}
	return e
}

// Set returns the set in force, or nil.
func (e *Engine) Set() *Set { return e.cur.Load() }

// Swap puts s in force and returns the set it replaces.
func (e *Engine) Swap(s *Set) *Set { return e.cur.Swap(s) }

// Load compiles docs (running their tests) and, only if that succeeds,
// puts the new set in force. On error the set in force does not change.
func (e *Engine) Load(docs []*Document, opts *CompileOptions) (*Set, error) {
	s, err := Compile(docs, opts)
	if err != nil {
		return nil, err
	}
	e.cur.Store(s)
	return s, nil
}

// LoadFiles is Load for files.
func (e *Engine) LoadFiles(opts *CompileOptions, paths ...string) (*Set, error) {
	docs, err := ParseFiles(paths...)
	if err != nil {
		return nil, err
	}
	return e.Load(docs, opts)
}

// Decide decides r with the set in force. Without a set it denies, with
// ErrNoSet among the decision's errors.
func (e *Engine) Decide(ctx context.Context, r *Request) Decision {
	s := e.cur.Load()
	if s == nil {
		return Decision{Effect: Deny, Errors: []*RuleError{{Err: ErrNoSet}}}
	}
	return s.Decide(ctx, r)
}
