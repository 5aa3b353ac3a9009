package policy

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// yamlLineRe matches the YAML decoder's syntax errors, which carry a line
// but no column.
var yamlLineRe = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// maxRefinedBytes bounds the documents whose syntax errors are located
// precisely; larger ones keep the decoder's line.
const maxRefinedBytes = 4 << 20

// yamlSyntaxPosition returns where a YAML syntax error in data is and what
// it says.
//
// The decoder reports the line where the construct it was reading began
// (the sequence or mapping that holds the mistake), often lines above the
// mistake itself. The mistake is on the first line at which the document,
// cut off after that line, fails with the same error: found by bisection,
// about log2(lines) decodes of a prefix, only on the error path. The column
// is that of a tab on the line if the error is about one, else of the
// line's first character that is not blank.
func yamlSyntaxPosition(data []byte, err error) (line, col int, msg string) {
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, 0, strings.TrimPrefix(err.Error(), "yaml: ")
	}
	line, _ = strconv.Atoi(m[1])
	msg = m[2]
	if len(data) > maxRefinedBytes {
		return line, 0, msg
	}
	ends := lineEnds(data)
	fails := func(k int) bool { // the first k lines fail with msg
		e := decodeAll(data[:ends[k-1]])
		if e == nil {
			return false
		}
		pm := yamlLineRe.FindStringSubmatch(e.Error())
		return pm != nil && pm[2] == msg
	}
	lo, hi := 1, len(ends)
	if !fails(hi) {
		return line, 0, msg
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	start := 0
	if lo > 1 {
		start = ends[lo-2]
	}
	text := data[start:ends[lo-1]]
	if i := bytes.IndexByte(text, '\t'); i >= 0 && strings.Contains(msg, "tab") {
		return lo, i + 1, msg
	}
	col = len(text) - len(bytes.TrimLeft(text, " \t")) + 1
	if col > len(bytes.TrimRight(text, "\r\n")) {
		col = 0 // a blank line: the line alone says it
	}
	return lo, col, msg
}

// lineEnds returns the offset just past each line of data (the last line
// may lack its newline).
func lineEnds(data []byte) []int {
	var ends []int
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	return ends
}

// decodeAll decodes every document in data and returns the first error.
func decodeAll(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
