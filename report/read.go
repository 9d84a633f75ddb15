package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"

	"github.com/evalrun/evalrun/internal/regularfile"

	"github.com/evalrun/evalrun/runner"
)

// ErrUnsupportedSchema is wrapped by the error ReadResult returns for a
// result file of a schema_version it does not read.
var ErrUnsupportedSchema = errors.New("unsupported result schema_version")

// ReadError is the error ReadResult returns for a result it cannot use. It
// names the place: Line and Col (1-based) for a JSON syntax or type error,
// Field (e.g. "scenarios[2].status") for a value that is not valid.
type ReadError struct {
	Path  string // file name, set by ReadResultFile
	Line  int
	Col   int
	Field string
	Msg   string
	Err   error // underlying error, may be nil
}

func (e *ReadError) Error() string {
	var b strings.Builder
	switch {
	case e.Path != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.Path, e.Line, e.Col)
	case e.Path != "":
		b.WriteString(e.Path + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "result line %d, column %d: ", e.Line, e.Col)
	default:
		b.WriteString("result: ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *ReadError) Unwrap() error { return e.Err }

// ReadResultFile reads the result file at path; see ReadResult.
func ReadResultFile(path string) (*Result, error) {
	return readFile(path, ReadResult)
}

// readFile reads the file at path with read; its *ReadError names path.
func readFile[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	f, err := regularfile.Open(path)
	if regularfile.IsNotRegular(err) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("read result: %w", err)
	}
	defer f.Close()
	v, err := read(f)
	if re, ok := err.(*ReadError); ok {
		re.Path = path
	}
	return v, err
}

// ReadResult reads a result file written by JSONWriter. It accepts only
// SchemaVersion (anything else is an error wrapping ErrUnsupportedSchema)
// and checks the result is consistent: known outcomes and statuses, counts
// that add up, unique scenario names, histograms that decode with evalrun's
// geometry and hold the values their count says. Unknown fields are
// ignored, so files from newer releases of the same schema version read.
// Errors are *ReadError.
func ReadResult(r io.Reader) (*Result, error) {
	data, version, err := readVersioned(r)
	if err != nil {
		return nil, err
	}
	return decodeResult(data, version)
}

// readVersioned reads a result file and its schema_version as written (nil
// when the key is missing).
func readVersioned(r io.Reader) (data []byte, version *json.RawMessage, err error) {
	data, err = io.ReadAll(r)
	if err != nil {
		return nil, nil, &ReadError{Msg: err.Error(), Err: err}
	}
	var head struct {
		SchemaVersion *json.RawMessage `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, nil, jsonError(data, err)
	}
	return data, head.SchemaVersion, nil
}

// decodeResult decodes and checks a single-target result file whose
// schema_version readVersioned found.
func decodeResult(data []byte, version *json.RawMessage) (*Result, error) {
	if version == nil {
		return nil, &ReadError{Field: "schema_version", Msg: "missing; is this an evalrun result file?", Err: ErrUnsupportedSchema}
	}
	if v := string(*version); v != fmt.Sprint(SchemaVersion) {
		return nil, &ReadError{Field: "schema_version",
			Msg: fmt.Sprintf("%s is not supported: this evalrun reads result schema_version %d", v, SchemaVersion),
			Err: ErrUnsupportedSchema}
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, jsonError(data, err)
	}
	res.upgrade()
	if err := res.validate(); err != nil {
		return nil, err
	}
	return &res, nil
}

// jsonError turns an encoding/json error into a ReadError with a position.
func jsonError(data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		line, col := lineCol(data, max(syn.Offset-1, 0))
		return &ReadError{Line: line, Col: col, Msg: "invalid JSON: " + syn.Error(), Err: err}
	case errors.As(err, &typ):
		line, col := lineCol(data, typ.Offset)
		if typ.Field == "" {
			return &ReadError{Line: line, Col: col,
				Msg: fmt.Sprintf("the file holds a JSON %s; want a JSON object, as evalrun writes result files", typ.Value), Err: err}
		}
		return &ReadError{Line: line, Col: col, Field: jsonField(typ.Field),
			Msg: fmt.Sprintf("got JSON %s, want %s", typ.Value, jsonKind(typ.Type)), Err: err}
	}
	return &ReadError{Msg: err.Error(), Err: err}
}

// jsonField is the JSON path of a field as encoding/json names it, without
// the Go names of embedded structs (ConversationResult.id is id).
func jsonField(f string) string {
	parts := strings.Split(f, ".")
	out := parts[:0]
	for _, p := range parts {
		if p != "" && p[0] >= 'A' && p[0] <= 'Z' {
			continue
		}
		out = append(out, p)
	}
	return strings.Join(out, ".")
}

// jsonKind names what a Go type reads from JSON in plain words, never the
// Go type's name.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a base64 string"
		}
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number of 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a value"
}

// lineCol converts a byte offset into a 1-based line and column (in bytes).
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return line, col
}

var validOutcomes = []runner.Outcome{runner.Passed, runner.Failed, runner.Errored, runner.Throttled, runner.NotRun}

func knownOutcome(o runner.Outcome) bool {
	for _, v := range validOutcomes {
		if o == v {
			return true
		}
	}
	return false
}

func outcomeError(field string, o runner.Outcome) error {
	return &ReadError{Field: field, Msg: fmt.Sprintf("unknown outcome %q (valid: passed, failed, error, throttled, not_run)", o)}
}

func fieldErr(field, format string, args ...any) error {
	return &ReadError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// validate checks the invariants every result this package writes holds.
func (r *Result) validate() error {
	t := r.Totals
	for _, c := range []struct {
		name string
		v    int64
	}{
		{"conversations", int64(t.Conversations)}, {"passed", int64(t.Passed)}, {"failed", int64(t.Failed)},
		{"error", int64(t.Errored)}, {"throttled", int64(t.Throttled)}, {"not_run", int64(t.NotRun)},
		{"calls", t.Calls}, {"attempts", t.Attempts}, {"turns", t.Turns},
	} {
		if c.v < 0 {
			return fieldErr("totals."+c.name, "negative count %d", c.v)
		}
	}
	if sum := t.Total(); sum != t.Conversations {
		return fieldErr("totals", "outcomes add up to %d, conversations is %d", sum, t.Conversations)
	}
	seen := make(map[string]bool, len(r.Scenarios))
	runs := 0
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		f := fmt.Sprintf("scenarios[%d]", i)
		if s.Name == "" {
			return fieldErr(f+".name", "empty")
		}
		if seen[s.Name] {
			return fieldErr(f+".name", "scenario %q appears twice", s.Name)
		}
		seen[s.Name] = true
		if err := s.validate(f); err != nil {
			return err
		}
		runs += s.Runs
	}
	if len(r.Scenarios) > 0 && runs != t.Conversations {
		return fieldErr("totals.conversations", "%d, but the scenarios' runs add up to %d", t.Conversations, runs)
	}
	if c := r.Cut; c != nil && (c.Ran != t.Conversations || c.Planned < c.Ran) {
		return fieldErr("cut", "planned %d, ran %d: ran must be totals.conversations (%d) and at most planned", c.Planned, c.Ran, t.Conversations)
	}
	if j := r.Judge; j != nil && (j.Grades < 0 || j.Calls < 0 || j.CacheHits < 0 || j.Failures < 0 || j.CacheHits+j.Failures > j.Grades) {
		return fieldErr("judge", "grades %d, calls %d, cache_hits %d, failures %d: counts must not be negative, and cache hits and failures are gradings",
			j.Grades, j.Calls, j.CacheHits, j.Failures)
	}
	if ti := r.Transcripts; ti != nil {
		if _, err := ParseTranscriptPolicy(string(ti.Policy)); err != nil {
			return fieldErr("transcripts.policy", "%v", err)
		}
		kept := 0
		for i := range r.Scenarios {
			kept += len(r.Scenarios[i].Conversations)
		}
		if ti.Kept != kept || ti.Sample < 0 || ti.Streamed < 0 {
			return fieldErr("transcripts", "kept %d, sample %d, streamed %d: the scenarios hold %d transcripts, counts must not be negative",
				ti.Kept, ti.Sample, ti.Streamed, kept)
		}
	}
	if st := r.Stream; st != nil && (st.Replies < 0 || st.UsageReplies < 0 || st.UsageReplies > st.Replies || st.OutputTokens < 0 ||
		!(st.OutputTokensPerS >= 0) || math.IsInf(st.OutputTokensPerS, 0)) {
		return fieldErr("stream", "replies %d, usage_replies %d, output_tokens %d, output_tokens_per_s %v: counts and the rate must be 0 or more, and usage replies are replies",
			st.Replies, st.UsageReplies, st.OutputTokens, st.OutputTokensPerS)
	}
	for i := range r.Histograms {
		h := &r.Histograms[i]
		f := fmt.Sprintf("histograms[%d]", i)
		if h.Kind == "" || h.Name == "" {
			return fieldErr(f, "kind and name must not be empty")
		}
		if want := HistogramUnit(h.Kind); h.Unit != "" && h.Unit != want {
			return fieldErr(f+".unit", "%q is not the unit of a %s histogram (want %q)", h.Unit, h.Kind, cmpOr(want, "absent: microseconds"))
		}
		if err := h.validateStats(f); err != nil {
			return err
		}
		if _, err := h.Decode(); err != nil {
			return &ReadError{Field: f, Msg: err.Error(), Err: err}
		}
	}
	return nil
}

// validateStats refuses a histogram's summary that cannot be right: a
// negative count or latency, percentiles out of order, a mean that is not a
// finite number of 0 or more.
func (h *HistogramResult) validateStats(f string) error {
	stats := []struct {
		name string
		v    int64
	}{{"count", h.Count}, {"min_us", h.MinUS}, {"p50_us", h.P50US}, {"p90_us", h.P90US}, {"p95_us", h.P95US},
		{"p99_us", h.P99US}, {"p999_us", h.P999US}, {"max_us", h.MaxUS}}
	for _, st := range stats {
		if st.v < 0 {
			return fieldErr(f+"."+st.name, "%d is negative; counts and latencies must be 0 or more", st.v)
		}
	}
	if h.Count > 0 {
		for i := 2; i < len(stats); i++ {
			if stats[i].v < stats[i-1].v {
				return fieldErr(f+"."+stats[i].name, "%d is below %s %d; percentiles must not decrease", stats[i].v, stats[i-1].name, stats[i-1].v)
			}
		}
	}
	if !(h.MeanUS >= 0) || math.IsInf(h.MeanUS, 0) {
		return fieldErr(f+".mean_us", "%v is not a latency (a finite number of 0 or more)", h.MeanUS)
	}
	return nil
}

func (s *ScenarioResult) validate(f string) error {
	for _, c := range []struct {
		name string
		v    int
	}{{"runs", s.Runs}, {"passed", s.Passed}, {"failed", s.Failed}, {"error", s.Errored},
		{"throttled", s.Throttled}, {"not_run", s.NotRun}, {"required", s.Required}} {
		if c.v < 0 {
			return fieldErr(f+"."+c.name, "negative count %d", c.v)
		}
	}
	if s.Planned != 0 && s.Planned < s.Runs {
		return fieldErr(f+".planned", "%d, fewer than its %d runs", s.Planned, s.Runs)
	}
	if sum := s.Total(); sum != s.Runs {
		return fieldErr(f, "outcomes add up to %d, runs is %d", sum, s.Runs)
	}
	if !(s.PassRate >= 0 && s.PassRate <= 1) {
		return fieldErr(f+".pass_rate", "%v is not between 0 and 1", s.PassRate)
	}
	if !(s.MinPassRate >= 0 && s.MinPassRate <= 1) {
		return fieldErr(f+".min_pass_rate", "%v is not between 0 and 1", s.MinPassRate)
	}
	if iv := s.PassRateCI; iv != nil && !(iv.Low >= 0 && iv.Low <= iv.High && iv.High <= 1) {
		return fieldErr(f+".pass_rate_ci", "[%v, %v] is not an interval within 0 and 1", iv.Low, iv.High)
	}
	if s.Status != StatusPassed && s.Status != StatusFailed {
		return fieldErr(f+".status", "%q is not valid (valid: passed, failed)", s.Status)
	}
	if s.Status == StatusPassed && (s.Runs == 0 || s.Passed < s.Required) {
		return fieldErr(f+".status", "passed, but %d of %d runs passed and %d are required", s.Passed, s.Runs, s.Required)
	}
	if ff := s.FirstFailure; ff != nil && !knownOutcome(ff.Outcome) {
		return outcomeError(f+".first_failure.outcome", ff.Outcome)
	}
	if len(s.Conversations) > s.Runs {
		return fieldErr(f+".conversations", "%d transcripts for %d runs", len(s.Conversations), s.Runs)
	}
	for j := range s.Conversations {
		if err := s.Conversations[j].validate(fmt.Sprintf("%s.conversations[%d].", f, j)); err != nil {
			return err
		}
	}
	return nil
}

// validate checks one transcript; prefix starts the field names of errors
// (e.g. "scenarios[0].conversations[3].").
func (c *ConversationResult) validate(prefix string) error {
	if !knownOutcome(c.Outcome) {
		return outcomeError(prefix+"outcome", c.Outcome)
	}
	if math.IsNaN(c.DurationMS) || c.DurationMS < 0 {
		return fieldErr(prefix+"duration_ms", "%v is not a duration", c.DurationMS)
	}
	for k := range c.Turns {
		t := &c.Turns[k]
		if o := t.Outcome; o != "" && !knownOutcome(o) {
			return outcomeError(fmt.Sprintf("%sturns[%d].outcome", prefix, k), o)
		}
		if math.IsNaN(t.LatencyMS) || t.LatencyMS < 0 {
			return fieldErr(fmt.Sprintf("%sturns[%d].latency_ms", prefix, k), "%v is not a latency", t.LatencyMS)
		}
	}
	return nil
}
