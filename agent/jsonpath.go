package agent

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// JSONPath is a compiled path into a JSON document, as the generic HTTP
// transport uses to find the reply text, the session id, tools and token
// counts. The syntax is a small subset of JSONPath: keys separated by dots,
// array indices in brackets, an optional leading "$" or "$.":
//
//	reply
//	data.session.id
//	choices[0].message.content
//	messages[-1].text          (negative indices count from the end)
//	$["key with.dots"].value   (quoted keys in brackets)
//
// "$" alone is the whole document.
type JSONPath struct {
	src   string
	steps []pathStep
}

type pathStep struct {
	key   string
	index int
	isIdx bool
}

// ParseJSONPath compiles a path; the error says where it is malformed.
func ParseJSONPath(s string) (JSONPath, error) {
	p := JSONPath{src: s}
	in := strings.TrimSpace(s)
	if in == "" {
		return p, fmt.Errorf("empty path: want e.g. data.reply or choices[0].message.content")
	}
	if in == "$" {
		return p, nil
	}
	in = strings.TrimPrefix(in, "$")
	in = strings.TrimPrefix(in, ".")
	i := 0
	expectKey := true
	for i < len(in) {
		switch c := in[i]; {
		case c == '[':
			end := strings.IndexByte(in[i:], ']')
			if end < 0 {
				return p, fmt.Errorf("path %q: '[' at offset %d is not closed; want e.g. choices[0].message.content", s, i)
			}
			inner := in[i+1 : i+end]
			if len(inner) >= 2 && (inner[0] == '"' || inner[0] == '\'') && inner[len(inner)-1] == inner[0] {
				p.steps = append(p.steps, pathStep{key: inner[1 : len(inner)-1]})
			} else {
				n, err := strconv.Atoi(inner)
				if err != nil {
					return p, fmt.Errorf("path %q: [%s] at offset %d: want an integer index or a quoted key", s, inner, i)
				}
				p.steps = append(p.steps, pathStep{index: n, isIdx: true})
			}
			i += end + 1
			expectKey = false
		case c == '.':
			if expectKey {
				return p, fmt.Errorf("path %q: empty key at offset %d; want a name between dots, e.g. data.reply", s, i)
			}
			i++
			expectKey = true
		default:
			j := i
			for j < len(in) && in[j] != '.' && in[j] != '[' {
				j++
			}
			p.steps = append(p.steps, pathStep{key: in[i:j]})
			i = j
			expectKey = false
		}
	}
	if expectKey {
		return p, fmt.Errorf("path %q ends with '.'; want a name after it, e.g. choices[0].message.content", s)
	}
	return p, nil
}

// String returns the path as written.
func (p JSONPath) String() string { return p.src }

// IsZero reports whether p was never set.
func (p JSONPath) IsZero() bool { return p.src == "" }

// Lookup returns the value at the path in a decoded document (as
// encoding/json decodes into any), and whether it exists.
func (p JSONPath) Lookup(doc any) (any, bool) {
	v := doc
	for _, st := range p.steps {
		if st.isIdx {
			arr, ok := v.([]any)
			if !ok {
				return nil, false
			}
			i := st.index
			if i < 0 {
				i += len(arr)
			}
			if i < 0 || i >= len(arr) {
				return nil, false
			}
			v = arr[i]
			continue
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[st.key]; !ok {
			return nil, false
		}
	}
	return v, true
}

// lookupString returns the value at p as text: a string as is, a number
// as written (json.Number), anything else fails.
func lookupString(p JSONPath, doc any) (string, bool) {
	v, ok := p.Lookup(doc)
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}
