// Package bench holds Gonaut's cross-system benchmarks: each compares a Gonaut
// package with an established peer side by side in one run. It is its own
// module so that the comparators never enter the SDK's go.mod.
//
// Run everything with "make bench" from the repository root, or one
// comparison with, for example:
//
//	cd bench && go test -run '^$' -bench Policy -benchmem ./...
package bench
