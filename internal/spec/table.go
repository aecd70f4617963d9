package spec

import (
	"fmt"
	"strings"
)

// Table is fields as a Markdown table: key, type, default, meaning.
func Table(fields []Field) string {
	var b strings.Builder
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	for _, f := range fields {
		def := "—"
		switch {
		case f.Required:
			def = "— (required)"
		case f.Default != "":
			def = "`" + f.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.Key, f.Type, def, strings.ReplaceAll(f.Help, "|", `\|`))
	}
	return b.String()
}

// Text is fields as plain text for a terminal, one key a line.
func Text(fields []Field) string {
	var b strings.Builder
	for _, f := range fields {
		def := ""
		switch {
		case f.Required:
			def = " (required)"
		case f.Default != "":
			def = " (default " + f.Default + ")"
		}
		fmt.Fprintf(&b, "  %s: %s%s\n      %s\n", f.Key, f.Type, def, f.Help)
	}
	return b.String()
}

// Markers fence a generated block in a Markdown file.
const (
	BeginMarker = "<!-- begin generated: meta table (make docs) -->"
	EndMarker   = "<!-- end generated -->"
)

// ReplaceBlock puts body between the markers in doc.
func ReplaceBlock(doc, body string) (string, error) {
	i := strings.Index(doc, BeginMarker)
	j := strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return "", fmt.Errorf("no %q ... %q block", BeginMarker, EndMarker)
	}
	return doc[:i+len(BeginMarker)] + "\n" + body + doc[j:], nil
}
