package report

import (
	"encoding/json"
	"fmt"
	"io"
)

// Writer renders a Result in one format. Each output format of evalrun
// (console summary, JSON result file, and later JUnit, Markdown, HTML) is a
// Writer, so the CLI can render any of them from a finished run or a saved
// result alike.
type Writer interface {
	Write(w io.Writer, r *Result) error
}

// JSONWriter writes the result file: r as indented JSON, ending in a
// newline. ReadResult reads it back.
type JSONWriter struct{}

// Write writes r as JSON to w.
func (JSONWriter) Write(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write result JSON: %w", err)
	}
	return nil
}
