package scenarios

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// A data-driven scenario has `matrix:` (a list of var mappings) or
// `matrix_csv:` (a CSV file whose header row names the vars) and expands
// into one scenario per row, named NAME[KEY], with the row's vars merged
// over the scenario's.

const (
	// maxMatrixRows bounds the rows of one matrix.
	maxMatrixRows = 10_000
	// maxRowKey is the longest value used as a row key; longer first
	// columns make the rows be numbered instead.
	maxRowKey = 40
	// maxCSVErrors is how many problems one CSV file reports.
	maxCSVErrors = 10
)

// matrixRow is one row of a matrix: its vars in the order written.
type matrixRow struct {
	vars  map[string]string
	order []string
	pos   Pos // the row's place (a YAML mapping or a CSV line)
}

// matrix decodes `matrix:`, a non-empty list of mappings of names to texts.
// On error the rows are nil but names holds the vars the good rows define,
// so that templates using them are not reported as undefined too.
func (d *decoder) matrix(n *yaml.Node) (rows []matrixRow, names []string) {
	items, ok := d.list(n, "matrix")
	if !ok {
		return nil, nil
	}
	if len(items) == 0 {
		d.errorf(n, "matrix: list must not be empty; give one mapping of vars per row")
		return nil, nil
	}
	if len(items) > maxMatrixRows {
		d.errorf(n, "matrix: %d rows is more than %d", len(items), maxMatrixRows)
		return nil, nil
	}
	rows = make([]matrixRow, 0, len(items))
	for i, it := range items {
		key := "matrix row " + strconv.Itoa(i+1)
		if it.Kind != yaml.MappingNode {
			d.errorf(it, "%s: expected a mapping of vars such as {plan: growth, price: 49}, got %s", key, describe(it))
			ok = false
			continue
		}
		if len(it.Content) == 0 {
			d.errorf(it, "%s: empty; give at least one var", key)
			ok = false
			continue
		}
		r := matrixRow{vars: map[string]string{}, pos: d.pos(it)}
		before := len(d.errs)
		r.order = d.varsInto(it, key, r.vars)
		ok = ok && len(d.errs) == before
		names = append(names, r.order...)
		rows = append(rows, r)
	}
	if !ok {
		return nil, names
	}
	return rows, names
}

// matrixCSV reads the CSV file named by `matrix_csv:`, relative to the
// scenario file's directory.
func (d *decoder) matrixCSV(n *yaml.Node) (rows []matrixRow, names []string) {
	rel, ok := d.nonEmpty(n, "matrix_csv")
	if !ok {
		return nil, nil
	}
	path := rel
	if !filepath.IsAbs(rel) {
		path = filepath.Join(filepath.Dir(d.file), rel)
	}
	data, err := readFile(path)
	if err != nil {
		d.errorf(n, "matrix_csv: cannot read %s: %v (the path is relative to this file's directory)", path, err)
		return nil, nil
	}
	rows, names, errs := parseMatrixCSV(path, data)
	d.errs = append(d.errs, errs...)
	if len(errs) > 0 {
		return nil, names
	}
	return rows, names
}

// parseMatrixCSV parses a matrix CSV file: RFC 4180 (quoted fields may
// hold commas, quotes doubled and line breaks), an optional UTF-8 byte
// order mark, a header row of var names, then at least one row with as
// many fields as the header. Every problem is reported with file:line:col.
// names are the header's valid var names, also on error.
func parseMatrixCSV(file string, data []byte) (rows []matrixRow, names []string, errs ErrorList) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	lines := splitLines(string(data))
	at := func(line, byteCol int) Pos {
		col := byteCol
		if line >= 1 && line <= len(lines) {
			l := lines[line-1]
			if byteCol-1 <= len(l) && byteCol >= 1 {
				col = utf8.RuneCountInString(l[:byteCol-1]) + 1
			}
		}
		return Pos{File: file, Line: line, Col: col}
	}
	if !utf8.Valid(data) {
		errs.Add(Pos{File: file, Line: 1, Col: 1}, "invalid CSV: the file is not UTF-8 text")
		return nil, nil, errs
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = 0
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		errs.Add(Pos{File: file, Line: 1, Col: 1}, "empty CSV: the first row must name the vars, e.g. plan,price")
		return nil, nil, errs
	}
	if err != nil {
		errs.Add(csvErrPos(err, at, file), "invalid CSV header: %s", csvErrMsg(err))
		return nil, nil, errs
	}
	cols := make([]string, len(header))
	seen := map[string]int{}
	for i, h := range header {
		if len(errs) >= maxCSVErrors {
			break
		}
		// The place is worked out only for a problem: counting the runes
		// before every one of 200,000 columns would take quadratic time.
		p := func() Pos { return at(r.FieldPos(i)) }
		h = strings.TrimSpace(h)
		cols[i] = h
		switch {
		case h == "":
			errs.Add(p(), "CSV header: column %d has no name; give every column a name: the first row names the vars", i+1)
		case !validName(h, false):
			errs.Add(p(), "CSV header: invalid var name %q: use letters, digits and '_', starting with a letter or '_'", h)
		case isBuiltin(h):
			errs.Add(p(), "CSV header: %q is a built-in template name; choose another", h)
		case seen[h] > 0:
			errs.Add(p(), "CSV header: duplicate column %q (also column %d); give each column its own name", h, seen[h])
		default:
			seen[h] = i + 1
			names = append(names, h)
		}
	}
	for len(errs) < maxCSVErrors {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				errs.Add(at(pe.StartLine, 1), "CSV row has %s, the header has %d; give each row one value per column (quote a value that holds a comma)", plural(len(rec), "field"), len(header))
				continue
			}
			errs.Add(csvErrPos(err, at, file), "invalid CSV: %s", csvErrMsg(err))
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rows) == maxMatrixRows {
			errs.Add(at(line, 1), "CSV has more than %d rows", maxMatrixRows)
			break
		}
		mr := matrixRow{vars: make(map[string]string, len(rec)), order: cols, pos: at(line, 1)}
		for i, v := range rec {
			mr.vars[cols[i]] = v
		}
		rows = append(rows, mr)
	}
	if len(errs) == 0 && len(rows) == 0 {
		errs.Add(Pos{File: file, Line: 1, Col: 1}, "CSV has a header but no rows; add one row per conversation")
	}
	if len(errs) > 0 {
		return nil, names, errs
	}
	return rows, names, nil
}

func csvErrPos(err error, at func(int, int) Pos, file string) Pos {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return at(pe.Line, max(pe.Column, 1))
	}
	return Pos{File: file, Line: 1, Col: 1}
}

func csvErrMsg(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, csv.ErrBareQuote):
			return `a quote (") inside an unquoted field; quote the whole field and double inner quotes: "say ""hi"""`
		case errors.Is(pe.Err, csv.ErrQuote):
			return `a quoted field is not closed, or text follows its closing quote; double quotes inside quoted fields ("")`
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// checkRows reports each var a template uses that some matrix rows do not
// define (and the scenario's vars do not either).
func (d *decoder) checkRows(uses map[string]Pos, base map[string]string, rows []matrixRow) {
	for _, name := range slices.Sorted(maps.Keys(uses)) {
		if _, ok := base[name]; ok {
			continue
		}
		var missing []string
		for i, r := range rows {
			if _, ok := r.vars[name]; !ok {
				missing = append(missing, strconv.Itoa(i+1))
			}
		}
		if len(missing) == 0 {
			continue
		}
		if len(missing) > 10 {
			missing = append(missing[:10], "…")
		}
		d.errs.Add(uses[name], "{{ %s }} is not set in matrix row %s; set it in every row or in vars:", name, strings.Join(missing, ", "))
	}
}

// rowKeys names the rows: the `key` var when the rows have one (it must be
// set and unique), else the first var's values when they are all
// non-empty, unique, one line and at most 40 characters, else the row
// numbers from 1.
func (d *decoder) rowKeys(rows []matrixRow) []string {
	keys := make([]string, len(rows))
	if _, ok := rows[0].vars["key"]; ok {
		seen := map[string]int{}
		for i, r := range rows {
			k, ok := r.vars["key"]
			k = strings.TrimSpace(k)
			switch {
			case !ok || k == "":
				d.errs.Add(r.pos, "matrix row %d: key is empty; every row needs a unique key (it names the conversation, e.g. NAME[key])", i+1)
			case strings.ContainsAny(k, "\r\n"):
				d.errs.Add(r.pos, "matrix row %d: key must be one line", i+1)
			case seen[k] > 0:
				d.errs.Add(r.pos, "matrix row %d: key %q is already the key of row %d; keys must be unique", i+1, k, seen[k])
			default:
				seen[k] = i + 1
			}
			keys[i] = k
		}
		return keys
	}
	seen := map[string]bool{}
	usable := true
	for i, r := range rows {
		k := strings.TrimSpace(r.vars[r.order[0]])
		if k == "" || seen[k] || strings.ContainsAny(k, "\r\n[]") || utf8.RuneCountInString(k) > maxRowKey {
			usable = false
			break
		}
		seen[k] = true
		keys[i] = k
	}
	if !usable {
		for i := range keys {
			keys[i] = strconv.Itoa(i + 1)
		}
	}
	return keys
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// expand makes one scenario per matrix row (none when the row keys are
// bad: the scenario is then returned as is, with the errors).
func (d *decoder) expand(sc *Scenario, rows []matrixRow) []*Scenario {
	before := len(d.errs)
	keys := d.rowKeys(rows)
	if len(d.errs) > before {
		return []*Scenario{sc}
	}
	out := make([]*Scenario, len(rows))
	for i, r := range rows {
		c := *sc
		c.Name = fmt.Sprintf("%s[%s]", sc.Name, keys[i])
		c.Row = i + 1
		c.RowKey = keys[i]
		c.namePos = r.pos
		c.Vars = maps.Clone(sc.Vars)
		maps.Copy(c.Vars, r.vars)
		out[i] = &c
	}
	return out
}
