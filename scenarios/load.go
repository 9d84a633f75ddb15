package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/evalrun/evalrun/internal/regularfile"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/internal/yamlpos"
)

// Keys of a scenario document and of a turn, in the order messages list them.
var (
	scenarioKeys = []string{"name", "description", "tags", "vars", "matrix", "matrix_csv", "client_id", "repeat", "min_pass_rate", "on_fail", "openai", "turns", "expect_conversation", "simulate"}
	turnKeys     = []string{"user", "think", "expect", "capture", "tool_results"}
)

const (
	maxRepeat   = 1_000_000
	maxFileSize = 10 << 20 // bytes; scenario files are small, this catches mistakes
)

// Load reads scenario files and directories. A directory is searched
// recursively for *.yaml and *.yml files in lexical order, skipping files
// and directories whose name starts with "." or "_", agent files of the
// simulated agent (*.agent.yaml) and configuration files (evalrun.yaml); a
// file named explicitly is read whatever its name. Each file holds one scenario or
// several separated by "---". Scenario names must be unique in the suite.
//
// Loading is strict: unknown keys, wrong types, bad regular expressions,
// unknown expectation kinds and undefined template names are all errors.
// The error, if any, is an ErrorList holding every problem found, each with
// its file:line:col, file paths as given.
//
// Load accepts `judge:` expectations (they fail at run time without a
// judge) and refuses {{ env NAME }}; LoadWith sets what a suite may use.
func Load(paths ...string) (*Suite, error) {
	return load(context.Background(), nil, paths)
}

// LoadWith is Load with suite-wide options: whether a judge is configured
// (without one, a `judge:` expectation is a load-time error), the
// environment variables {{ env NAME }} may read, and defaults for every
// scenario. Problems in opts.Defaults' expectations are reported at their
// place in the configuration file.
func LoadWith(opts LoadOptions, paths ...string) (*Suite, error) {
	return load(context.Background(), &opts, paths)
}

// LoadContext is LoadWith that stops when ctx is done: it then returns an
// error wrapping ctx's cause (errors.Is(err, context.Canceled) after an
// interrupt) instead of an ErrorList. Loading never waits on a file: what
// is not a regular file (a named pipe, a device, a socket) is refused
// without being read.
func LoadContext(ctx context.Context, opts LoadOptions, paths ...string) (*Suite, error) {
	return load(ctx, &opts, paths)
}

// ErrLoadInterrupted is wrapped by the error of LoadContext when its
// context was done before the suite was loaded.
var ErrLoadInterrupted = errors.New("loading the scenarios was interrupted")

func load(ctx context.Context, opts *LoadOptions, paths []string) (*Suite, error) {
	var errs ErrorList
	if opts != nil && !opts.JudgeConfigured {
		for _, e := range opts.Defaults.Expect {
			e.walk(func(x *Expectation) {
				if _, ok := x.check.(*judgeCheck); ok {
					errs.Add(x.Pos, "judge: no judge is configured; add judge: {url, model, api_key_env} to evalrun.yaml, or remove this default expectation")
				}
			})
		}
	}
	if len(paths) == 0 {
		errs.Add(Pos{}, "no scenario files or directories given")
		return nil, errs.Err()
	}
	suite := &Suite{}
	files := collectFiles(ctx, paths, &errs)
	results := loadFiles(ctx, files, opts)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("scenarios: %w: %w", ErrLoadInterrupted, context.Cause(ctx))
	}
	for _, r := range results {
		errs = append(errs, r.errs...)
		suite.Scenarios = append(suite.Scenarios, r.scs...)
	}
	errs = append(errs, duplicateNames(suite.Scenarios)...)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return suite, nil
}

// fileResult is what one file gave: its scenarios and its errors.
type fileResult struct {
	scs  []*Scenario
	errs ErrorList
}

// parallelFrom is the number of files from which loadFiles spreads the
// work over the CPUs; below it, starting goroutines costs more than it saves.
const parallelFrom = 16

// loadFiles reads and parses files, on every CPU for a large suite, and
// returns their results in the order of files (so errors and scenarios come
// in the same order however the work was split).
func loadFiles(ctx context.Context, files []string, opts *LoadOptions) []fileResult {
	out := make([]fileResult, len(files))
	res := &regexpCache{}
	one := func(i int) {
		if ctx.Err() != nil {
			return // the caller reports the interrupt
		}
		data, err := readFile(files[i])
		if err != nil {
			out[i].errs.Add(Pos{File: files[i]}, "%v", err)
			return
		}
		out[i].scs, out[i].errs = parseFile(files[i], data, opts, res)
	}
	workers := min(runtime.GOMAXPROCS(0), len(files))
	if len(files) < parallelFrom || workers < 2 {
		for i := range files {
			one(i)
		}
		return out
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				one(i)
			}
		})
	}
	wg.Wait()
	return out
}

// readFile reads a scenario or CSV file, refusing what is not a regular
// file: a named pipe would block the load until something writes to it, a
// device could be endless.
func readFile(file string) ([]byte, error) {
	f, err := regularfile.Open(file)
	if err != nil {
		if regularfile.IsNotRegular(err) {
			return nil, fmt.Errorf("%w; scenario and CSV files must be regular files", err)
		}
		return nil, cause(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, cause(err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("file is larger than %d MiB; is it a scenario file?", maxFileSize>>20)
	}
	return data, nil
}

// cause drops the path from a *fs.PathError: messages already start with it.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// collectFiles expands paths into scenario files, each once, in order.
func collectFiles(ctx context.Context, paths []string, errs *ErrorList) []string {
	var files []string
	seen := map[string]bool{}
	addFile := func(f string) {
		if c := filepath.Clean(f); !seen[c] {
			seen[c] = true
			files = append(files, f)
		}
	}
	for _, root := range paths {
		info, err := os.Stat(root)
		if err != nil {
			errs.Add(Pos{File: root}, "%v", cause(err))
			continue
		}
		if !info.IsDir() {
			addFile(root)
			continue
		}
		found := 0
		// A directory given as a symlink is walked through it (WalkDir
		// does not follow a symlink, except with a trailing separator);
		// symlinks inside the tree are not followed, so a cycle cannot be.
		walkRoot := root
		if li, err := os.Lstat(root); err == nil && li.Mode()&fs.ModeSymlink != 0 && !os.IsPathSeparator(root[len(root)-1]) {
			walkRoot += string(filepath.Separator)
		}
		err = filepath.WalkDir(walkRoot, func(path string, e fs.DirEntry, err error) error {
			if ctx.Err() != nil {
				return fs.SkipAll // the caller reports the interrupt
			}
			if err != nil {
				errs.Add(Pos{File: path}, "%v", cause(err))
				if e != nil && e.IsDir() && path != walkRoot {
					return fs.SkipDir
				}
				return nil
			}
			if path != walkRoot && (strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_")) {
				if e.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if e.IsDir() || !isScenarioFile(e.Name()) {
				return nil
			}
			found++
			addFile(path)
			return nil
		})
		if err != nil {
			errs.Add(Pos{File: root}, "%v", cause(err))
		} else if found == 0 {
			errs.Add(Pos{File: root}, "no scenario files (*.yaml, *.yml) in this directory")
		}
	}
	return files
}

// isScenarioFile reports whether a file found in a directory walk holds
// scenarios: *.yaml and *.yml, except agent files of the simulated agent
// (*.agent.yaml) and the suite's configuration (evalrun.yaml).
func isScenarioFile(name string) bool {
	lower := strings.ToLower(name)
	ext := filepath.Ext(lower)
	if ext != ".yaml" && ext != ".yml" {
		return false
	}
	base := strings.TrimSuffix(lower, ext)
	return base != "evalrun" && !strings.HasSuffix(base, ".agent")
}

// Parse parses the scenarios of one file's contents; file names it in
// positions and gives scenarios without a name their default name. The
// error, if any, is an ErrorList.
//
// Like Load, Parse accepts `judge:` and refuses {{ env NAME }}; a
// `matrix_csv:` path is read relative to file's directory.
func Parse(file string, data []byte) ([]*Scenario, error) {
	return parse(nil, file, data)
}

// ParseWith is Parse with the options of LoadWith.
func ParseWith(opts LoadOptions, file string, data []byte) ([]*Scenario, error) {
	return parse(&opts, file, data)
}

func parse(opts *LoadOptions, file string, data []byte) ([]*Scenario, error) {
	scs, errs := parseFile(file, data, opts, nil)
	errs = append(errs, duplicateNames(scs)...)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return scs, nil
}

// splitLines splits s at YAML line breaks: LF, CR LF, CR, and the Unicode
// NEL, LS and PS, so that line numbers agree with the YAML library's.
func splitLines(s string) []string {
	lines := make([]string, 0, strings.Count(s, "\n")+1)
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\r':
			lines = append(lines, s[start:i])
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			i++
			start = i
		case c == '\n':
			lines = append(lines, s[start:i])
			i++
			start = i
		case c < utf8.RuneSelf:
			i++
		default: // NEL, LINE and PARAGRAPH SEPARATOR break lines too
			r, w := utf8.DecodeRuneInString(s[i:])
			if r == '\u0085' || r == '\u2028' || r == '\u2029' {
				lines = append(lines, s[start:i])
				start = i + w
			}
			i += w
		}
	}
	return append(lines, s[start:])
}

// decodeDoc decodes the next document. The YAML library is not ours: a
// panic in it is reported as a bad file, not a crash of the run.
func decodeDoc(dec *yaml.Decoder, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(doc)
}

// parseFile decodes every document of one file, collecting all errors. It
// returns the scenarios with errors too, so that duplicate names are found
// in the same pass; callers discard them on error.
func parseFile(file string, data []byte, opts *LoadOptions, res *regexpCache) ([]*Scenario, ErrorList) {
	var scs []*Scenario
	d := &decoder{file: file, src: string(data), opts: opts, regexps: res}
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	docs := 0
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := decodeDoc(dec, &doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			d.yamlError(err)
			break
		}
		root := &doc
		if doc.Kind == yaml.DocumentNode {
			if len(doc.Content) == 0 {
				continue
			}
			root = d.resolve(doc.Content[0])
		}
		if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
			continue // an empty document, e.g. after a trailing ---
		}
		docs++
		scs = append(scs, d.scenario(root, docs, base)...) // broken ones too, for duplicate names
	}
	if docs == 0 && len(d.errs) == 0 {
		d.errs.Add(Pos{File: file}, "no scenario in this file: it needs at least `turns:` with one `- user: ...`")
	}
	return scs, capErrors(d.errs)
}

// maxFileErrors is how many problems a file reports; the others are
// counted in one last line.
const maxFileErrors = 100

// capErrors keeps the first maxFileErrors problems of each file (in the
// order of their places) and says how many more there are: a file of
// 100,000 unknown keys gives 101 lines, not 100,000.
func capErrors(errs ErrorList) ErrorList {
	if len(errs) <= maxFileErrors {
		return errs
	}
	errs.Sort()
	out := make(ErrorList, 0, maxFileErrors+1)
	count := map[string]int{}
	var more []*Error // per file with too many: the first left out, then counted
	var omitted []int
	for _, e := range errs {
		count[e.Pos.File]++
		switch n := count[e.Pos.File]; {
		case n <= maxFileErrors:
			out = append(out, e)
		case n == maxFileErrors+1:
			more = append(more, e)
			omitted = append(omitted, 1)
		default:
			omitted[len(omitted)-1]++ // sorted by file: the current file's
		}
	}
	for i, e := range more {
		out.Add(e.Pos, "…and %d more problems in this file (the first %d are shown)", omitted[i], maxFileErrors)
	}
	return out
}

// yamlError turns the YAML library's error into an Error at the offending
// token, with the source line and a caret under it (yamlpos.Syntax).
func (d *decoder) yamlError(err error) {
	d.errs = append(d.errs, yamlpos.Syntax(d.file, d.src, err))
}

// duplicateNames reports each scenario whose name an earlier one has.
func duplicateNames(scs []*Scenario) ErrorList {
	var errs ErrorList
	first := map[string]*Scenario{}
	for _, sc := range scs {
		if f, dup := first[sc.Name]; dup {
			errs.Add(sc.namePos, "duplicate scenario name %q (also at %s); names must be unique in the suite", sc.Name, f.namePos)
			continue
		}
		first[sc.Name] = sc
	}
	return errs
}

// scenario decodes one document: one scenario, or one per matrix row.
// idx is the 1-based number of the document in its file, for default
// names.
func (d *decoder) scenario(n *yaml.Node, idx int, base string) []*Scenario {
	fs, ok := d.fields(n, "scenario", scenarioKeys)
	if !ok {
		return nil
	}
	sc := &Scenario{
		File: d.file, Pos: d.pos(n), namePos: d.pos(n),
		Name: base, Repeat: 1, MinPassRate: 1, OnFail: OnFailStop,
		Vars: map[string]string{},
	}
	if idx > 1 {
		sc.Name = base + "#" + strconv.Itoa(idx)
	}
	if d.opts != nil {
		maps.Copy(sc.Vars, d.opts.Defaults.Vars)
	}
	byKey := map[string]*yaml.Node{}
	keyNode := map[string]*yaml.Node{}
	for _, f := range fs {
		byKey[f.name] = f.val
		keyNode[f.name] = f.key
	}
	// vars and matrix first: templates are checked against them.
	if v := byKey["vars"]; v != nil {
		d.varsInto(v, "vars", sc.Vars)
	}
	var rows []matrixRow
	var rowNames []string
	switch {
	case byKey["matrix"] != nil && byKey["matrix_csv"] != nil:
		d.errorf(keyNode["matrix_csv"], "matrix_csv: give either matrix or matrix_csv, not both")
		_, rowNames = d.matrix(byKey["matrix"])
	case byKey["matrix"] != nil:
		rows, rowNames = d.matrix(byKey["matrix"])
	case byKey["matrix_csv"] != nil:
		rows, rowNames = d.matrixCSV(byKey["matrix_csv"])
	}
	scope := &tmplScope{vars: sc.Vars, captured: map[string]int{}, opts: d.opts, uses: map[string]Pos{}}
	// A CSV that could not be read defines unknown vars: undefined names
	// are then not reported (the CSV's own error is).
	scope.unknownVars = byKey["matrix_csv"] != nil && rowNames == nil
	if len(rowNames) > 0 {
		// The rows' vars are defined for the templates; checkRows then
		// reports those some rows lack.
		scope.vars = maps.Clone(sc.Vars)
		for _, k := range rowNames {
			if _, ok := scope.vars[k]; !ok {
				scope.vars[k] = ""
			}
		}
	}
	setOnFail := false
	for _, f := range fs {
		v := f.val
		switch f.name {
		case "name":
			if s, ok := d.nonEmpty(v, "name"); ok {
				if strings.ContainsAny(s, "\r\n") {
					d.errorf(v, "name: must be one line")
				}
				sc.Name, sc.namePos = s, d.pos(v)
			}
		case "description":
			if s, ok := d.text(v, "description"); ok {
				sc.Description = s
			}
		case "tags":
			if l, ok := d.strList(v, "tags", false); ok {
				sc.Tags = l
			}
		case "repeat":
			if r, ok := d.int(v, "repeat"); ok {
				if r < 1 || r > maxRepeat {
					d.errorf(v, "repeat: must be between 1 and %d, got %d", maxRepeat, r)
				} else {
					sc.Repeat = r
				}
			}
		case "min_pass_rate":
			if f, ok := d.float(v, "min_pass_rate"); ok {
				if !(f >= 0 && f <= 1) {
					hint := ""
					if f > 1 && f <= 100 {
						hint = fmt.Sprintf(" (for %s%% write %s)", v.Value, strconv.FormatFloat(f/100, 'f', -1, 64))
					}
					d.errorf(v, "min_pass_rate: must be between 0 and 1, got %s%s", v.Value, hint)
				} else {
					sc.MinPassRate = f
				}
			}
		case "on_fail":
			setOnFail = true
			if s, ok := d.text(v, "on_fail"); ok {
				switch OnFail(s) {
				case OnFailStop, OnFailContinue:
					sc.OnFail = OnFail(s)
				default:
					d.errorf(v, "on_fail: expected stop or continue, got %s", excerpt(s, 40))
				}
			}
		}
	}
	if v := byKey["openai"]; v != nil {
		sc.OpenAI = d.openAIOptions(v)
	}
	if v := byKey["turns"]; v != nil {
		d.turns(v, sc, scope)
	} else if byKey["simulate"] == nil && !misspelled(n, "turns") {
		d.errorf(n, "scenario %q has no turns: add `turns:` with at least one `- user: ...`", sc.Name)
	}
	if v := byKey["simulate"]; v != nil {
		sc.Simulate = d.simulation(v, len(sc.Turns), scope)
	}
	if v := byKey["expect_conversation"]; v != nil {
		sc.ExpectConversation = d.conversationExpectations(v)
		d.checkGoalMet(sc, byKey["simulate"] != nil)
	}
	// client_id last: a capture used there gets a precise message.
	if v := byKey["client_id"]; v != nil {
		if s, ok := d.nonEmpty(v, "client_id"); ok {
			scope.turn = -1
			sc.ClientID = d.template(v, "client_id", s, scope)
		}
	}
	if d.opts != nil {
		d.opts.applyDefaults(sc, setOnFail)
	}
	sc.BaseName = sc.Name
	if len(rows) > 0 {
		d.checkRows(scope.uses, sc.Vars, rows)
		return d.expand(sc, rows)
	}
	return []*Scenario{sc}
}

// misspelled reports whether mapping n has a key that is a typo of key
// (already reported as unknown, with the suggestion).
func misspelled(n *yaml.Node, key string) bool {
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Value != key && closest(k.Value, scenarioKeys) == key {
			return true
		}
	}
	return false
}

// varsInto decodes a mapping of var names to texts (`vars:`, a matrix
// row) into vars, overriding what is there, and returns the names in the
// order written. key names the mapping in messages.
func (d *decoder) varsInto(n *yaml.Node, key string, vars map[string]string) []string {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: expected a mapping of names to values, got %s", key, describe(n))
		return nil
	}
	var order []string
	seen := map[string]bool{}
	for k, v := range d.pairs(n) {
		name := k.Value
		switch {
		case seen[name]:
			d.errorf(k, "%s: duplicate name %q", key, name)
			continue
		case !validName(name, false):
			d.errorf(k, "%s: invalid name %q: use letters, digits and '_', starting with a letter or '_'", key, name)
			continue
		case isBuiltin(name):
			d.errorf(k, "%s: %q is a built-in template name; choose another", key, name)
			continue
		}
		seen[name] = true
		order = append(order, name)
		if s, ok := d.text(v, key+"."+name); ok {
			vars[name] = s
		}
	}
	return order
}

// turns decodes the list of turns, then checks their templates: a turn's
// message can use the captures of earlier turns only. It records every
// capture name in scope.captured with the index of the first turn
// capturing it.
func (d *decoder) turns(n *yaml.Node, sc *Scenario, scope *tmplScope) {
	items, ok := d.list(n, "turns")
	if !ok {
		return
	}
	if len(items) == 0 {
		d.errorf(n, "turns: a scenario needs at least one turn (`- user: ...`)")
		return
	}
	type pending struct {
		turn *Turn
		user *yaml.Node
		src  string
	}
	var todo []pending
	for i, it := range items {
		t, user, src := d.turn(it, i, scope.vars)
		if t == nil {
			continue
		}
		sc.Turns = append(sc.Turns, t)
		for _, c := range t.Captures {
			if _, ok := scope.captured[c.Name]; !ok {
				scope.captured[c.Name] = i
			}
		}
		if user != nil {
			todo = append(todo, pending{t, user, src})
		}
	}
	for _, p := range todo {
		scope.turn = p.turn.Index
		p.turn.User = d.template(p.user, "user", p.src, scope)
	}
}

// turn decodes one turn; the user message is returned undecoded (node and
// text) so that its template is checked once all captures are known.
func (d *decoder) turn(n *yaml.Node, idx int, vars map[string]string) (*Turn, *yaml.Node, string) {
	fs, ok := d.fields(n, fmt.Sprintf("turn %d", idx+1), turnKeys)
	if !ok {
		return nil, nil, ""
	}
	t := &Turn{Index: idx, Pos: d.pos(n)}
	var userNode *yaml.Node
	var userSrc string
	hasUser := false
	for _, f := range fs {
		v := f.val
		switch f.name {
		case "user":
			hasUser = true
			if s, ok := d.nonEmpty(v, "user"); ok {
				userNode, userSrc = v, s
			}
		case "think":
			t.hasThink = true
			if dur, ok := d.duration(v, "think"); ok {
				t.Think = dur
			}
		case "expect":
			t.Expect = d.expectations(v, "expect")
		case "capture":
			t.Captures = d.captures(v, vars)
		case "tool_results":
			if idx == 0 {
				d.errorf(f.key, "turn 1: tool_results answers the tool calls of the previous reply, and the first turn has none; put it on a later turn")
				continue
			}
			t.ToolResults = d.toolResults(v)
		}
	}
	if !hasUser {
		d.errorf(n, "turn %d: missing user: the message to send", idx+1)
	}
	return t, userNode, userSrc
}

// captures decodes `capture:`, a mapping of names to patterns with a group.
func (d *decoder) captures(n *yaml.Node, vars map[string]string) []Capture {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "capture: expected a mapping of names to regular expressions, e.g. {price: '\\$(\\d+)'}, got %s", describe(n))
		return nil
	}
	var out []Capture
	seen := map[string]bool{}
	for k, v := range d.pairs(n) {
		name := k.Value
		switch {
		case seen[name]:
			d.errorf(k, "capture: duplicate name %q", name)
			continue
		case !validName(name, false):
			d.errorf(k, "capture: invalid name %q: use letters, digits and '_', starting with a letter or '_'", name)
			continue
		case isBuiltin(name):
			d.errorf(k, "capture: %q is a built-in template name; choose another", name)
			continue
		}
		if _, isVar := vars[name]; isVar {
			d.errorf(k, "capture: %q is already a var; choose another name", name)
			continue
		}
		seen[name] = true
		re, ok := d.regexp(v, "capture "+name)
		if !ok {
			continue
		}
		if re.NumSubexp() < 1 {
			d.errorf(v, "capture %s: pattern '%s' has no group; put the part to capture in parentheses, e.g. 'order (\\d+)'", name, re)
			continue
		}
		out = append(out, Capture{Name: name, Pattern: re, Pos: d.pos(k)})
	}
	return out
}
