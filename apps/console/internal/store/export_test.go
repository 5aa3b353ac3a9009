package store

// SetFewMatches sets the threshold between a search's two plans under an
// actor or resource filter, so that tests reach both with small logs; it
// returns a function restoring it.
func SetFewMatches(n int) (restore func()) {
	old := fewMatches
	fewMatches = n
	return func() { fewMatches = old }
}
