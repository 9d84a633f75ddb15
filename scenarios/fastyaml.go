package scenarios

import (
	"strings"
	"sync"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// fastYAML parses the plain subset of YAML that almost every scenario file
// is written in, and builds the same yaml.Node trees the YAML library
// builds for it (kind, tag, style, value, line and column; not comments,
// which the loader does not read), several times faster and with a few
// allocations per file instead of hundreds.
//
// The subset: documents separated by "---" lines, each a block mapping at
// column 1; block mappings and sequences (also a sequence at its key's
// indentation); plain scalars on one line; single- and double-quoted
// scalars on one line (double-quoted with the escapes \\ \" \n \t);
// literal (|) and folded (>) block scalars, with or without a chomping
// indicator (see blockScalar); flow sequences and mappings on one line;
// comments. Anything else (anchors, aliases, tags, multi-line plain or
// quoted scalars or flow collections, empty values, tabs, CR line breaks,
// unusual characters, and every error) makes ok false, and the caller
// parses the file with the YAML library, which also writes the error
// messages. FuzzFastYAML checks
// that whatever the fast path accepts, the library parses to the same tree.
func fastYAML(src string) (roots []*yaml.Node, ok bool) {
	return new(fastParser).parseStrict(src)
}

// fastParsers keeps parsers, with their node slabs, between files: a
// load's trees are dropped as soon as they are decoded.
var fastParsers = sync.Pool{New: func() any { return new(fastParser) }}

// getFastParser returns a parser from the pool; release gives it back once
// the trees it returned are no longer used.
func getFastParser() *fastParser { return fastParsers.Get().(*fastParser) }

func (p *fastParser) release() { fastParsers.Put(p) }

// parse is fastYAML with this parser's slabs; the trees it returns are
// valid until the next parse. A bug in the fast path must not cost a user
// their run: any panic gives the file to the library (the fuzz target
// calls parseStrict, which lets it through).
func (p *fastParser) parse(src string) (roots []*yaml.Node, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			roots, ok = nil, false
		}
	}()
	return p.parseStrict(src)
}

// parseStrict is parse without the safety net.
func (p *fastParser) parseStrict(src string) (roots []*yaml.Node, ok bool) {
	if !fastYAMLChars(src) {
		return nil, false
	}
	*p = fastParser{src: src, line: 1, chunks: p.chunks, stack: p.stack[:0], ptrs: p.ptrs[:0], tags: p.tags}
	defer func() {
		if r := recover(); r != nil {
			if r != errNotFast {
				panic(r)
			}
			roots, ok = nil, false
		}
	}()
	p.nextContent()
	for {
		if p.indent == indentEOF {
			if len(roots) == 0 {
				return nil, false // no document: the library decides what that is
			}
			return roots, true
		}
		if p.indent == indentMarker {
			if !p.docStart() {
				return nil, false
			}
			p.nextContent()
			if p.indent != 0 {
				return nil, false // an empty document, or one not at column 1
			}
		}
		if p.indent != 0 || !p.isKey() {
			return nil, false
		}
		roots = append(roots, p.blockMapping(0))
		if p.indent >= 0 {
			return nil, false // dedented to nowhere, or content after the root
		}
	}
}

// errNotFast is the panic with which the fast parser gives up.
var errNotFast = &struct{ s string }{"input outside the fast YAML subset"}

const (
	indentEOF    = -1 // no more content
	indentMarker = -2 // a line starting with "---" or "..." at column 1
	maxFastDepth = 64
	nodeChunk    = 128 // nodes per slab
)

// fastYAMLChars reports whether src has none of the characters the fast
// path leaves to the library: tabs, carriage returns and other control
// characters, the Unicode line breaks, byte order marks, non-characters,
// and invalid UTF-8.
func fastYAMLChars(src string) bool {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError || r < 0xa0 || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0xfffe || r == 0xffff {
			return false
		}
		i += w
	}
	return true
}

// fastParser is the state of one fastYAML call.
type fastParser struct {
	src       string
	pos       int // byte offset
	line      int // 1-based line of pos
	lineStart int // byte offset where pos's line starts
	indent    int // of the current content line, or indentEOF / indentMarker
	depth     int

	chunks [][]yaml.Node     // slabs the nodes are cut from, reused across parses
	chunk  int               // the slab in use
	used   int               // nodes cut from it
	stack  []*yaml.Node      // children of the collections being parsed
	ptrs   []*yaml.Node      // slab the collections' Content is cut from
	tags   map[string]string // plainTag's cache, kept across parses
}

func (p *fastParser) fail() { panic(errNotFast) }

// node returns a new node at byte offset off of the current line.
func (p *fastParser) node(kind yaml.Kind, off int) *yaml.Node {
	if p.used == nodeChunk {
		p.chunk, p.used = p.chunk+1, 0
	}
	if p.chunk == len(p.chunks) {
		p.chunks = append(p.chunks, make([]yaml.Node, nodeChunk))
	}
	n := &p.chunks[p.chunk][p.used]
	p.used++
	*n = yaml.Node{Kind: kind, Line: p.line, Column: p.col(off)}
	return n
}

// col is the 1-based column, in characters, of byte offset off.
func (p *fastParser) col(off int) int {
	s := p.src[p.lineStart:off]
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.RuneCountInString(s) + 1
		}
	}
	return len(s) + 1
}

// content moves the children pushed since mark into n.Content.
func (p *fastParser) content(n *yaml.Node, mark int) {
	k := len(p.stack) - mark
	if k == 0 {
		return
	}
	if cap(p.ptrs)-len(p.ptrs) < k {
		p.ptrs = make([]*yaml.Node, 0, max(k, 256, 2*cap(p.ptrs)))
	}
	start := len(p.ptrs)
	p.ptrs = append(p.ptrs, p.stack[mark:]...)
	n.Content = p.ptrs[start : start+k : start+k]
	clear(p.stack[mark:])
	p.stack = p.stack[:mark]
}

func (p *fastParser) enter() {
	p.depth++
	if p.depth > maxFastDepth {
		p.fail()
	}
}

// nextContent moves to the first non-space character of the next line that
// holds more than spaces or a comment, and sets p.indent.
func (p *fastParser) nextContent() {
	src := p.src
	i := p.pos
	if i < len(src) && src[i] != '\n' && i != p.lineStart {
		p.fail() // callers stop at the end of a line
	}
	if i < len(src) && src[i] == '\n' {
		i++
		p.line++
		p.lineStart = i
	}
	for {
		start := i
		for i < len(src) && src[i] == ' ' {
			i++
		}
		if i == len(src) {
			p.pos, p.indent = i, indentEOF
			return
		}
		switch src[i] {
		case '\n':
			i++
			p.line++
			p.lineStart = i
			continue
		case '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			continue
		}
		p.pos = i
		p.indent = i - start
		if p.indent == 0 && (strings.HasPrefix(src[i:], "---") || strings.HasPrefix(src[i:], "...")) {
			p.indent = indentMarker
		}
		return
	}
}

// docStart consumes a line that is exactly "---".
func (p *fastParser) docStart() bool {
	rest := p.src[p.pos:]
	if rest != "---" && !strings.HasPrefix(rest, "---\n") {
		return false
	}
	p.pos += 3
	return true
}

// endLine consumes spaces and a comment up to the end of the line.
func (p *fastParser) endLine() {
	src := p.src
	i := p.pos
	for i < len(src) && src[i] == ' ' {
		i++
	}
	if i < len(src) && src[i] == '#' {
		if i == 0 || src[i-1] != ' ' {
			p.fail() // a '#' right after a value does not start a comment
		}
		for i < len(src) && src[i] != '\n' {
			i++
		}
	}
	if i < len(src) && src[i] != '\n' {
		p.fail()
	}
	p.pos = i
}

// isDash reports whether the current content is a block sequence entry.
func (p *fastParser) isDash() bool {
	i := p.pos
	return p.src[i] == '-' && (i+1 == len(p.src) || p.src[i+1] == ' ' || p.src[i+1] == '\n')
}

// isKey reports whether the current content is "key:" with a plain or
// quoted key, without consuming it.
func (p *fastParser) isKey() bool {
	src := p.src
	i := p.pos
	switch src[i] {
	case '"', '\'':
		end, ok := p.quotedEnd(i)
		return ok && end < len(src) && src[end] == ':' && (end+1 == len(src) || src[end+1] == ' ' || src[end+1] == '\n')
	}
	if !p.plainStart(i) {
		return false
	}
	_, next := p.plainEnd(i, false)
	return next < len(src) && src[next] == ':'
}

// blockMapping parses a block mapping whose first key is at the current
// position, indent spaces from the line start.
func (p *fastParser) blockMapping(indent int) *yaml.Node {
	p.enter()
	n := p.node(yaml.MappingNode, p.pos)
	n.Tag = "!!map"
	mark := len(p.stack)
	for {
		if p.pos-p.lineStart != indent || !p.isKey() {
			p.fail()
		}
		p.stack = append(p.stack, p.key())
		v := p.mappingValue(indent) // pushes and pops its own children
		p.stack = append(p.stack, v)
		if p.indent != indent {
			if p.indent > indent {
				p.fail()
			}
			break
		}
		if p.isDash() {
			p.fail()
		}
	}
	p.content(n, mark)
	p.depth--
	return n
}

// key parses a mapping key and its ':'.
func (p *fastParser) key() *yaml.Node {
	start := p.pos
	k := p.scalar(false)
	if p.pos-start > 1000 || !p.at(':') {
		p.fail() // the library allows 1024 characters for a key
	}
	p.pos++
	return k
}

// valueStart moves past the spaces after a key's ':' or a sequence's '-'.
// When the rest of the line is empty or a comment, the value is on the
// lines below: it moves to the next content line and reports true.
func (p *fastParser) valueStart() (below bool) {
	src := p.src
	i := p.pos
	for i < len(src) && src[i] == ' ' {
		i++
	}
	if i == len(src) || src[i] == '\n' || src[i] == '#' && i > p.pos {
		p.pos = i
		p.endLine()
		p.nextContent()
		return true
	}
	if i == p.pos {
		p.fail()
	}
	p.pos = i
	return false
}

// below parses the block collection on the lines below a key or '-' of a
// collection at indent. A mapping's value may be a sequence at the
// mapping's own indentation (seqAtIndent).
func (p *fastParser) below(indent int, seqAtIndent bool) *yaml.Node {
	switch {
	case p.indent > indent && p.isDash(), seqAtIndent && p.indent == indent && p.isDash():
		return p.blockSequence(p.indent)
	case p.indent > indent:
		return p.blockMapping(p.indent)
	}
	p.fail() // an empty value
	return nil
}

// scalarValue parses a value that starts on the current line and is not a
// collection below it: a block scalar, or a scalar or flow collection
// ending the line. It moves to the next content line.
func (p *fastParser) scalarValue(indent int) *yaml.Node {
	if c := p.src[p.pos]; c == '|' || c == '>' {
		return p.blockScalar(indent)
	}
	v := p.inline(false)
	p.endLine()
	p.nextContent()
	return v
}

// mappingValue parses the value after "key:" of a mapping at indent and
// moves to the next content line.
func (p *fastParser) mappingValue(indent int) *yaml.Node {
	if p.valueStart() {
		return p.below(indent, true)
	}
	return p.scalarValue(indent)
}

// blockSequence parses a block sequence whose first '-' is at the current
// position, indent spaces from the line start.
func (p *fastParser) blockSequence(indent int) *yaml.Node {
	p.enter()
	n := p.node(yaml.SequenceNode, p.pos)
	n.Tag = "!!seq"
	mark := len(p.stack)
	for {
		if p.pos-p.lineStart != indent || !p.isDash() {
			p.fail()
		}
		p.pos++
		v := p.entry(indent)
		p.stack = append(p.stack, v)
		if p.indent != indent {
			if p.indent > indent {
				p.fail()
			}
			break
		}
		if !p.isDash() {
			break // the mapping this sequence is a value of goes on
		}
	}
	p.content(n, mark)
	p.depth--
	return n
}

// entry parses what follows the '-' of a sequence entry and moves to the
// next content line.
func (p *fastParser) entry(indent int) *yaml.Node {
	if p.valueStart() {
		return p.below(indent, false)
	}
	if p.isKey() {
		return p.blockMapping(p.pos - p.lineStart)
	}
	v := p.scalarValue(indent)
	if p.indent > indent {
		p.fail() // a continuation line
	}
	return v
}

// blockScalar parses a literal (|) or folded (>) block scalar whose
// indicator is at the current position, in a collection at parent
// indentation, and moves to the next content line. The subset: the
// indentation found from the first line, no blank lines before it, blank
// lines empty (no spaces), the last line ended by a line break, and for
// folded scalars no line indented more than the first.
func (p *fastParser) blockScalar(parent int) *yaml.Node {
	src := p.src
	n := p.node(yaml.ScalarNode, p.pos)
	n.Tag = "!!str"
	n.Style = yaml.LiteralStyle
	folded := src[p.pos] == '>'
	if folded {
		n.Style = yaml.FoldedStyle
	}
	p.pos++
	chomp := byte(0)
	if p.at('-') || p.at('+') {
		chomp = src[p.pos]
		p.pos++
	}
	if p.pos < len(src) && src[p.pos] != ' ' && src[p.pos] != '\n' {
		p.fail() // an indentation indicator, or text after the indicator
	}
	p.endLine()
	if p.pos == len(src) {
		p.fail()
	}
	// The first line sets the indentation; it must be deeper than parent.
	i := p.pos + 1
	start := i
	for i < len(src) && src[i] == ' ' {
		i++
	}
	indent := i - start
	if i == len(src) || src[i] == '\n' || indent <= parent {
		p.fail()
	}
	var b strings.Builder
	b.Grow(64)
	blank := 0 // empty lines not yet written
	lines := 0 // text lines written
	lineNo := p.line + 1
	for {
		// start is a line's first byte; is it in the scalar?
		i = start
		for i < len(src) && src[i] == ' ' {
			i++
		}
		if i == len(src) {
			if i > start {
				p.fail() // a last line of spaces
			}
			break
		}
		if src[i] == '\n' {
			if i > start {
				p.fail() // a blank line with spaces
			}
			blank++
			start = i + 1
			lineNo++
			continue
		}
		if i-start < indent {
			break
		}
		end := strings.IndexByte(src[i:], '\n')
		if end < 0 {
			p.fail() // no line break after the last line
		}
		end += i
		text := src[start+indent : end]
		if lines > 0 {
			if !folded {
				b.WriteByte('\n')
			} else if blank == 0 {
				b.WriteByte(' ')
			}
			for range blank {
				b.WriteByte('\n')
			}
		}
		if folded && text[0] == ' ' {
			p.fail() // a more-indented line keeps its break in folded scalars
		}
		b.WriteString(text)
		lines++
		blank = 0
		start = end + 1
		lineNo++
	}
	if chomp != '-' {
		b.WriteByte('\n')
	}
	if chomp == '+' {
		for range blank {
			b.WriteByte('\n')
		}
	}
	n.Value = b.String()
	// Continue at the line that ended the scalar.
	p.pos, p.lineStart, p.line = start, start, lineNo
	p.nextContent()
	return n
}

// inline parses a scalar or flow collection on the current line, inside
// a flow collection when flow is set.
func (p *fastParser) inline(flow bool) *yaml.Node {
	if p.pos >= len(p.src) {
		p.fail()
	}
	if c := p.src[p.pos]; c == '[' || c == '{' {
		return p.flowCollection()
	}
	return p.scalar(flow)
}

// scalar parses a quoted or plain scalar.
func (p *fastParser) scalar(flow bool) *yaml.Node {
	if c := p.src[p.pos]; c == '"' || c == '\'' {
		return p.quoted()
	}
	return p.plain(flow)
}

func (p *fastParser) skipSpaces() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

// at reports whether the byte at the current position is c.
func (p *fastParser) at(c byte) bool { return p.pos < len(p.src) && p.src[p.pos] == c }

// flowCollection parses a flow sequence or mapping on one line; a trailing
// comma, a key without a value and a pair in a sequence are left to the
// library.
func (p *fastParser) flowCollection() *yaml.Node {
	p.enter()
	n := p.node(yaml.SequenceNode, p.pos)
	n.Tag, n.Style = "!!seq", yaml.FlowStyle
	end := byte(']')
	if p.at('{') {
		n.Kind, n.Tag, end = yaml.MappingNode, "!!map", '}'
	}
	p.pos++
	p.skipSpaces()
	mark := len(p.stack)
	for !p.at(end) {
		if n.Kind == yaml.MappingNode {
			if p.pos >= len(p.src) {
				p.fail()
			}
			k := p.scalar(true)
			if !p.at(':') || p.pos+1 >= len(p.src) || p.src[p.pos+1] != ' ' {
				p.fail() // a key without a value, or "key:value"
			}
			p.pos++
			p.skipSpaces()
			p.stack = append(p.stack, k)
		}
		v := p.inline(true)
		p.stack = append(p.stack, v)
		p.skipSpaces()
		if !p.at(',') {
			if !p.at(end) {
				p.fail() // a pair in a sequence, or the line ends
			}
			break
		}
		p.pos++
		p.skipSpaces()
		if p.at(end) {
			p.fail() // a trailing comma
		}
	}
	p.pos++
	p.content(n, mark)
	p.depth--
	return n
}

// plainStart reports whether a plain scalar may start at byte i.
func (p *fastParser) plainStart(i int) bool {
	src := p.src
	switch c := src[i]; c {
	case '-', '?', ':':
		if i+1 >= len(src) {
			return false
		}
		switch src[i+1] {
		case ' ', '\n', ',', '[', ']', '{', '}':
			return false
		}
		return true
	case ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ', '\n':
		return false
	}
	return true
}

// plainEnd returns where the plain scalar starting at i ends (spaces
// trimmed) and the byte after its last space.
func (p *fastParser) plainEnd(i int, flow bool) (end, next int) {
	src := p.src
	j := i
scan:
	for ; j < len(src); j++ {
		switch src[j] {
		case '\n':
			break scan
		case ':':
			if j+1 == len(src) || src[j+1] == ' ' || src[j+1] == '\n' {
				break scan
			}
			if flow {
				p.fail() // the library's rules for ':' in flow scalars vary
			}
		case '#':
			if src[j-1] == ' ' {
				break scan
			}
		case ',', '[', ']', '{', '}':
			if flow {
				break scan
			}
		case '?':
			if flow {
				p.fail()
			}
		}
	}
	end = j
	for end > i && src[end-1] == ' ' {
		end--
	}
	if src[j-1] == ' ' && j < len(src) && src[j] == ':' {
		p.fail() // "key :" — a space before the colon
	}
	return end, j
}

// resolvableFirst are the first characters of plain scalars that the
// library may resolve to a tag other than !!str.
const resolvableFirst = "+-0123456789yYnNtTfFoO~<."

// plainTag returns the tag the library resolves a plain scalar to, from
// a cache: suites repeat the same numbers and durations in every file.
func (p *fastParser) plainTag(n *yaml.Node) string {
	v := n.Value
	if strings.IndexByte(resolvableFirst, v[0]) < 0 {
		return "!!str"
	}
	if tag, ok := p.tags[v]; ok {
		return tag
	}
	tag := n.ShortTag() // the library's rules for null, bool, int, float, timestamp
	if len(v) <= 32 && len(p.tags) < 4096 {
		if p.tags == nil {
			p.tags = make(map[string]string)
		}
		p.tags[strings.Clone(v)] = tag // not a slice of src, which it would keep alive
	}
	return tag
}

// plain parses a plain scalar.
func (p *fastParser) plain(flow bool) *yaml.Node {
	i := p.pos
	if !p.plainStart(i) {
		p.fail()
	}
	end, next := p.plainEnd(i, flow)
	n := p.node(yaml.ScalarNode, i)
	n.Value = p.src[i:end]
	n.Tag = p.plainTag(n)
	p.pos = next
	return n
}

// quotedEnd returns the offset after the closing quote of the quoted
// scalar at i, on the same line.
func (p *fastParser) quotedEnd(i int) (int, bool) {
	src := p.src
	q := src[i]
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\n':
			return 0, false
		case '\\':
			if q == '"' {
				j++
				if j < len(src) && src[j] == '\n' {
					return 0, false
				}
			}
		case q:
			if q == '\'' && j+1 < len(src) && src[j+1] == '\'' {
				j++
				continue
			}
			return j + 1, true
		}
	}
	return 0, false
}

// quoted parses a single- or double-quoted scalar on one line.
func (p *fastParser) quoted() *yaml.Node {
	i := p.pos
	end, ok := p.quotedEnd(i)
	if !ok {
		p.fail()
	}
	n := p.node(yaml.ScalarNode, i)
	n.Tag = "!!str"
	raw := p.src[i+1 : end-1]
	if p.src[i] == '\'' {
		n.Style = yaml.SingleQuotedStyle
		n.Value = raw
		if strings.Contains(raw, "''") {
			n.Value = strings.ReplaceAll(raw, "''", "'")
		}
	} else {
		n.Style = yaml.DoubleQuotedStyle
		n.Value = raw
		if strings.IndexByte(raw, '\\') >= 0 {
			n.Value = p.unescape(raw)
		}
	}
	p.pos = end
	return n
}

// unescape resolves the escapes of the fast subset.
func (p *fastParser) unescape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(s) {
			p.fail()
		}
		switch s[i] {
		case '\\', '"':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		default:
			p.fail()
		}
	}
	return b.String()
}
