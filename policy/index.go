package policy

import (
	"slices"
	"strings"
)

// glob is a compiled resource-name pattern: "*" matches any run of
// characters, "?" exactly one; everything else matches itself.
type glob struct {
	pattern string
	literal bool // no wildcards: compare directly
}

func compileGlob(p string) glob {
	return glob{pattern: p, literal: !strings.ContainsAny(p, "*?")}
}

func (g glob) match(name string) bool {
	if g.literal {
		return g.pattern == name
	}
	return globMatch(g.pattern, name)
}

// globMatch is the classic iterative wildcard match with single-star
// backtracking: linear in practice, quadratic at worst, never exponential.
func globMatch(p, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// index finds the rules that may apply to a resource without looking at
// the others, so that decision time does not grow with rules about other
// resources. Rules are found by kind (or any kind) and then by exact name,
// by glob, or as applying to every name. Lists hold rule positions in set
// order.
type index struct {
	byKind map[string]*kindIndex // "" holds rules for any kind
}

type kindIndex struct {
	exact map[string][]int32
	globs []int32
	any   []int32
}

func buildIndex(rules []*rule) index {
	ix := index{byKind: map[string]*kindIndex{}}
	for i, r := range rules {
		kinds := r.kinds
		if len(kinds) == 0 {
			kinds = []string{""}
		}
		for _, k := range uniq(kinds) {
			ki := ix.byKind[k]
			if ki == nil {
				ki = &kindIndex{exact: map[string][]int32{}}
				ix.byKind[k] = ki
			}
			switch {
			case len(r.names) == 0:
				ki.any = append(ki.any, int32(i))
			case slices.ContainsFunc(r.names, func(n glob) bool { return !n.literal }):
				ki.globs = append(ki.globs, int32(i))
			default:
				var names []string
				for _, n := range r.names {
					names = append(names, n.pattern)
				}
				for _, n := range uniq(names) {
					ki.exact[n] = append(ki.exact[n], int32(i))
				}
			}
		}
	}
	return ix
}

// uniq returns the distinct values of s, sorted.
func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// candidates appends to buf, in set order, the positions of the rules that
// may select res: those for its kind or any kind, with its exact name, a
// glob, or no names. The caller checks globs and labels (rule.selects).
func (ix *index) candidates(buf []int32, res *Resource) []int32 {
	buf = ix.byKind[""].appendTo(buf, res)
	if res.Kind != "" {
		buf = ix.byKind[res.Kind].appendTo(buf, res)
	}
	// Lists are each sorted; merging a handful of short lists by
	// insertion sort is cheaper than anything cleverer.
	for i := 1; i < len(buf); i++ {
		for j := i; j > 0 && buf[j-1] > buf[j]; j-- {
			buf[j-1], buf[j] = buf[j], buf[j-1]
		}
	}
	return buf
}

func (ki *kindIndex) appendTo(buf []int32, res *Resource) []int32 {
	if ki == nil {
		return buf
	}
	buf = append(buf, ki.any...)
	buf = append(buf, ki.exact[res.Name]...)
	return append(buf, ki.globs...)
}
