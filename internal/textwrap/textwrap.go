// Package textwrap breaks prose into lines for generated comments (the
// generator's Go doc comments, parley config example's YAML comments).
package textwrap

import "strings"

// Lines breaks text into lines of at most width bytes at spaces; a word
// longer than width gets a line of its own.
func Lines(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return append(lines, line)
}
