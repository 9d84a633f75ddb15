package report

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// FuzzResultConsumers feeds every result file that ReadResult accepts to
// what evalrun does with one (compare, merge, report): Compare, Merge and
// every writer must not panic on any result that passed the checks, and a
// result merged with itself must load back.
func FuzzResultConsumers(f *testing.F) {
	for _, r := range []*Result{interruptedResult(), emptyResult(), streamedResult()} {
		b, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	empty := summarize(HistOverall, "all", newLatencyHistogram())
	f.Add([]byte(`{"schema_version": 1, "histograms": [{"kind":"overall","name":"all","count":0,"encoded":"` + empty.Encoded + `"}]}`))
	f.Add([]byte(`{"schema_version": 1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadResult(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, w := range []Writer{ConsoleWriter{}, MarkdownWriter{}, HTMLWriter{}, JUnitWriter{Hostname: "h"}, JSONWriter{}} {
			if err := w.Write(io.Discard, r); err != nil {
				t.Logf("%T: %v", w, err) // an error is fine, a panic is not
			}
		}
		for _, h := range r.Histograms {
			_ = WriteHgrm(io.Discard, &h)
		}
		if c, err := Compare(r, r, CompareOptions{}); err == nil {
			_ = c.WriteText(io.Discard)
			_ = c.WriteMarkdown(io.Discard)
			if c.Regressed() {
				t.Fatalf("a result regresses against itself: %+v", c.Regressions)
			}
		}
		if m, err := Merge(r, r); err == nil {
			var buf bytes.Buffer
			if err := (JSONWriter{}).Write(&buf, m); err != nil {
				t.Fatalf("write a merged result: %v", err)
			}
			if _, err := ReadResult(&buf); err != nil {
				t.Fatalf("a result merged with itself does not load back: %v", err)
			}
		}
	})
}
