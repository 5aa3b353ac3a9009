// Package ui is the console's web pages: templ components (the *.templ
// files, compiled to the committed *_templ.go files by templ v0.3.1020,
// run as a Go tool with `go generate`), server-drawn SVG charts, and the
// static files (htmx 4.0.1 and its SSE extension, CSS, a small theme
// script and one that shows loading and error states of htmx requests),
// embedded so the console is one binary and needs no CDN.
//
// The components only render the data they are given; handlers, access
// control and CSRF tokens live in the server package.
package ui

//go:generate go tool templ generate
