package ui

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Static is the console's static files, served under /static/.
var Static, _ = fs.Sub(static, "static")
