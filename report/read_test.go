package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestJSONRoundTrip(t *testing.T) {
	for name, res := range map[string]*Result{
		"mixed": mixedResult(), "passed": passedResult(), "interrupted": interruptedResult(), "empty": emptyResult(),
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := (JSONWriter{}).Write(&buf, res); err != nil {
				t.Fatal(err)
			}
			got, err := ReadResult(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, res) {
				a, _ := json.Marshal(got)
				b, _ := json.Marshal(res)
				t.Errorf("read back differs:\n%s\n%s", a, b)
			}
			if got.Passed() != res.Passed() {
				t.Error("Passed() changed in the round trip")
			}
		})
	}
}

// TestJSONShape pins the field names other tools read.
func TestJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := (JSONWriter{}).Write(&buf, mixedResult()); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		`"schema_version": 1,`, `"run_id": "20250301-120000-ab12"`, `"target": {`, `"url": "http://127.0.0.1:8787/?key=REDACTED"`,
		`"budget": {`, `"used_before": 0`, `"totals": {`, `"not_run": 1`, `"pass_rate": 0.6`, `"min_pass_rate": 0.8`,
		`"status": "failed"`, `"first_failure": {`, `"reply_excerpt": "I'm sorry`, `"duration_ms": 12345`,
		`"latency_ms": 260`, `"p999_us":`, `"encoded": "`, `"interrupted": false`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("result JSON lacks %s", want)
		}
	}
	for _, secret := range []string{"secret", "sk-", "user:"} {
		if strings.Contains(out, secret) {
			t.Errorf("result JSON contains %q", secret)
		}
	}
	if !strings.HasSuffix(out, "}\n") {
		t.Error("result JSON does not end in a newline")
	}
}

func validJSON(t testing.TB) []byte {
	var buf bytes.Buffer
	if err := (JSONWriter{}).Write(&buf, mixedResult()); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// edit returns the mixed result JSON with one change made to its decoded
// form.
func edit(t *testing.T, change func(m map[string]any)) []byte {
	var m map[string]any
	if err := json.Unmarshal(validJSON(t), &m); err != nil {
		t.Fatal(err)
	}
	change(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func path(m map[string]any, keys ...any) map[string]any {
	var cur any = m
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur.(map[string]any)
}

func TestReadResultErrors(t *testing.T) {
	tests := []struct {
		name    string
		input   []byte
		want    string // substring of the error
		version bool   // wraps ErrUnsupportedSchema
	}{
		{"empty", nil, "result line 1, column 1: invalid JSON: unexpected end of JSON input", false},
		{"not json", []byte("hello"), "result line 1, column 1: invalid JSON", false},
		{"syntax error line 3", []byte("{\n\"schema_version\": 1,\n\"run_id\": x}"), "line 3, column 11: invalid JSON", false},
		{"no version", []byte(`{"run_id": "r"}`), "schema_version: missing", true},
		{"future version", []byte(`{"schema_version": 2}`), "schema_version: 2 is not supported: this evalrun reads result schema_version 1", true},
		{"string version", []byte(`{"schema_version": "1"}`), `"1" is not supported`, true},
		{"wrong type", []byte(`{"schema_version": 1, "totals": {"calls": "many"}}`), "totals.calls: got JSON string, want a whole number", false},
		{"trailing data", append(validJSON(t), []byte("{}")...), "invalid character '{' after top-level value", false},
		{"outcomes do not add up", edit(t, func(m map[string]any) { path(m, "totals")["passed"] = 100.0 }),
			"result: totals: outcomes add up to 105, conversations is 9", false},
		{"negative count", edit(t, func(m map[string]any) { path(m, "totals")["calls"] = -1.0 }), "totals.calls: negative count -1", false},
		{"bad status", edit(t, func(m map[string]any) { path(m, "scenarios", 0)["status"] = "ok" }),
			`scenarios[0].status: "ok" is not valid (valid: passed, failed)`, false},
		{"status contradicts counts", edit(t, func(m map[string]any) { path(m, "scenarios", 3)["status"] = "passed" }),
			"scenarios[3].status: passed, but 3 of 5 runs passed and 4 are required", false},
		{"bad outcome", edit(t, func(m map[string]any) { path(m, "scenarios", 3, "conversations", 1)["outcome"] = "meh" }),
			`scenarios[3].conversations[1].outcome: unknown outcome "meh" (valid: passed, failed, error, throttled, not_run)`, false},
		{"bad turn outcome", edit(t, func(m map[string]any) {
			path(m, "scenarios", 3, "conversations", 1, "turns", 0)["outcome"] = "meh"
		}), `scenarios[3].conversations[1].turns[0].outcome: unknown outcome "meh"`, false},
		{"duplicate scenario", edit(t, func(m map[string]any) { path(m, "scenarios", 1)["name"] = "appointment" }),
			`scenarios[1].name: scenario "appointment" appears twice`, false},
		{"pass rate out of range", edit(t, func(m map[string]any) { path(m, "scenarios", 0)["pass_rate"] = 1.5 }),
			"scenarios[0].pass_rate: 1.5 is not between 0 and 1", false},
		{"histogram count mismatch", edit(t, func(m map[string]any) { path(m, "histograms", 0)["count"] = 7.0 }),
			`histograms[0]: histogram overall "all": encoded histogram holds 21 values, count says 7`, false},
		{"histogram not base64", edit(t, func(m map[string]any) { path(m, "histograms", 1)["encoded"] = "!!" }),
			"histograms[1]: histogram call_kind \"new_chat\": encoded: not base64", false},
		{"histogram empty", edit(t, func(m map[string]any) { path(m, "histograms", 1)["encoded"] = "" }),
			"encoded: empty", false},
		{"top-level array", []byte(`[{"schema_version": 1}]`), "the file holds a JSON array; want a JSON object", false},
		{"top-level string", []byte(`"result"`), "the file holds a JSON string; want a JSON object", false},
		{"negative percentile", edit(t, func(m map[string]any) { path(m, "histograms", 0)["p95_us"] = -5.0 }),
			"histograms[0].p95_us: -5 is negative", false},
		{"percentiles out of order", edit(t, func(m map[string]any) { path(m, "histograms", 0)["p99_us"] = 0.0 }),
			"histograms[0].p99_us: 0 is below p95_us", false},
		{"negative mean", edit(t, func(m map[string]any) { path(m, "histograms", 0)["mean_us"] = -1.5 }),
			"histograms[0].mean_us: -1.5 is not a latency", false},
		{"histogram other geometry", edit(t, func(m map[string]any) { path(m, "histograms", 1)["encoded"] = foreignHistogram(t) }),
			"encoded: geometry 1..3600000000 at 2 digits, want 1..300000000 at 3 digits", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadResult(bytes.NewReader(tt.input))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			for _, goName := range []string{"struct", "int64", "float64", "[]", "map["} {
				if strings.Contains(err.Error(), goName) {
					t.Errorf("error %q shows a Go type name (%s)", err, goName)
				}
			}
			var re *ReadError
			if !errors.As(err, &re) {
				t.Errorf("error %T is not a *ReadError", err)
			}
			if got := errors.Is(err, ErrUnsupportedSchema); got != tt.version {
				t.Errorf("errors.Is(err, ErrUnsupportedSchema) = %v, want %v", got, tt.version)
			}
		})
	}
}

func TestReadResultFile(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/out.json"
	if err := WriteFileAtomic(p, func(w io.Writer) error {
		_, err := w.Write([]byte("{\n  \"schema_version\": 1,\n  oops\n}"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_, err := ReadResultFile(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":3:3: invalid JSON") {
		t.Errorf("error = %v, want it to start with %s:3:3", err, p)
	}
	if _, err := ReadResultFile(dir + "/missing.json"); err == nil {
		t.Error("no error for a missing file")
	}
}

// FuzzReadResult checks that ReadResult never panics and that whatever it
// accepts survives a write and a second read unchanged.
func FuzzReadResult(f *testing.F) {
	// Small seeds, compacted: the fuzzer minimizes every new input, which
	// is slow for the tens of kilobytes of a large result.
	for _, r := range []*Result{interruptedResult(), emptyResult()} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"schema_version": 1}`))
	f.Add([]byte(`{"schema_version": 2}`))
	empty := summarize(HistOverall, "all", newLatencyHistogram())
	f.Add([]byte(`{"schema_version": 1, "histograms": [{"kind":"overall","name":"all","count":0,"encoded":"` + empty.Encoded + `"}]}`))
	f.Add([]byte(`[1, 2`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadResult(bytes.NewReader(data))
		if err != nil {
			if r != nil {
				t.Fatal("a result with an error")
			}
			return
		}
		var first bytes.Buffer
		if err := (JSONWriter{}).Write(&first, r); err != nil {
			t.Fatalf("write an accepted result: %v", err)
		}
		r2, err := ReadResult(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatalf("read back an accepted result: %v\n%s", err, first.Bytes())
		}
		var second bytes.Buffer
		if err := (JSONWriter{}).Write(&second, r2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("second round trip changed the result:\n%s\n%s", first.Bytes(), second.Bytes())
		}
		// Every writer renders whatever ReadResult accepts.
		if err := (ConsoleWriter{Width: 60}).Write(&bytes.Buffer{}, r); err != nil {
			t.Fatal(err)
		}
	})
}
