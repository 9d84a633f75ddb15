package scenarios

import (
	"github.com/evalrun/evalrun/internal/yamlpos"
)

// Error is one problem found while loading scenarios, at a place in a file:
// "file:line:col: msg", or "file: msg" when the line is not known, then the
// source line with a caret under the column for a YAML syntax error. It is
// the error type of every file format evalrun reads (internal/yamlpos).
type Error = yamlpos.Error

// ErrorList is every problem found by Load or Parse, sorted by file, line
// and column. Load and Parse return it as their error, so a caller can show
// each problem on its own line or count them:
//
//	var errs scenarios.ErrorList
//	if errors.As(err, &errs) { ... }
type ErrorList = yamlpos.ErrorList
