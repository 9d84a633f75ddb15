package agent

import (
	"fmt"

	"github.com/evalrun/evalrun/internal/jsonpath"
)

// JSONPath is a compiled path into a JSON document, as the generic HTTP
// transport uses to find the reply text, the session id, tools and token
// counts. It is evalrun's one path dialect (package internal/jsonpath, the
// same as scenarios' `field: {path: ...}`; docs/scenarios.md, "JSON
// paths"): keys separated by dots, array indices in brackets, an optional
// leading "$" or "$.":
//
//	reply
//	data.session.id
//	choices[0].message.content
//	messages[-1].text          (negative indices count from the end)
//	$["key with.dots"].value   (quoted keys in brackets)
//
// "$" alone is the whole document. [*] (every item) selects several values,
// so it is refused here: each of these paths names one value.
type JSONPath = jsonpath.Path

// ParseJSONPath compiles a path; the error says where it is malformed (it
// wraps a *jsonpath.Error with the column).
func ParseJSONPath(s string) (JSONPath, error) {
	p, err := jsonpath.Parse(s)
	if err != nil {
		return JSONPath{}, fmt.Errorf("path %q %w; e.g. choices[0].message.content or messages[-1].text", s, err)
	}
	if p.Wild() {
		return JSONPath{}, fmt.Errorf("path %q: [*] selects every item, but this path must name one value; write an index such as [0] or [-1]", s)
	}
	return p, nil
}

// lookupString returns the value at p as text: a string as is, a number
// as written (json.Number), anything else fails.
func lookupString(p JSONPath, doc any) (string, bool) { return p.LookupString(doc) }
