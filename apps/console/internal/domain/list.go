package domain

import "github.com/gonaut/gonaut/apps/console/internal/store"

// ListOptions page through a list ordered by key: After is the last key
// of the previous page, Limit defaults to 50 and is capped at 1000, and
// Query filters on the main text fields.
type ListOptions = store.ListOptions
