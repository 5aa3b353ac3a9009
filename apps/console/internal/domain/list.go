package domain

import "github.com/gonaut/gonaut/apps/console/internal/store"

// ListOptions pages and searches a list: After is the last key of the
// previous page, Limit defaults to 50 and is capped at 1000, Query is a
// case-insensitive substring filter on the main text fields.
type ListOptions = store.ListOptions

// listPage is the most a list operation reads from the store at once
// when it walks a whole table.
const listPage = 1000

// eachPage calls f for successive pages of listPage items, after the
// key f returned for the previous one, until a page is short or f fails.
func eachPage(f func(after string) (next string, n int, err error)) error {
	after := ""
	for {
		next, n, err := f(after)
		if err != nil || n < listPage {
			return err
		}
		after = next
	}
}

// lastKey is f() for a page of n items, "" for an empty one.
func lastKey(n int, f func() string) string {
	if n == 0 {
		return ""
	}
	return f()
}

// valuesOf turns store rows into domain values, one by one.
func valuesOf[R, V any](rows []R, of func(*R) V) []V {
	out := make([]V, len(rows))
	for i := range rows {
		out[i] = of(&rows[i])
	}
	return out
}
