package ui

import "strconv"

// Plural writes n with the noun in the number it takes: "1 rule",
// "2 rules", "0 rules".
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
