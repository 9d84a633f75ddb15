package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/evalrun/evalrun/runner"
)

// TranscriptPolicy says which conversations a result keeps in full. Every
// conversation counts in the totals and histograms whatever the policy; the
// policy only decides which transcripts (sent text, replies, verdicts) the
// result holds, so a run of any length keeps a bounded result in memory.
type TranscriptPolicy string

// The transcript policies.
const (
	// TranscriptsFailed keeps the conversations that failed, errored or
	// were throttled.
	TranscriptsFailed TranscriptPolicy = "failed"
	// TranscriptsSample keeps what TranscriptsFailed keeps, plus every
	// conversation of the first Sample iterations of each scenario. It is
	// the default.
	TranscriptsSample TranscriptPolicy = "sample"
	// TranscriptsAll keeps in the result what TranscriptsSample keeps and
	// streams every conversation to a JSON Lines file as it ends. Without a
	// stream to write to, the result keeps every conversation.
	TranscriptsAll TranscriptPolicy = "all"
	// TranscriptsNone keeps no transcript; the first failure of each
	// scenario is still recorded.
	TranscriptsNone TranscriptPolicy = "none"
)

// DefaultTranscriptSample is the number of iterations per scenario whose
// passed conversations the sample policy keeps when Transcripts.Sample is 0.
const DefaultTranscriptSample = 20

// ParseTranscriptPolicy parses a policy name: failed, sample, all or none.
func ParseTranscriptPolicy(s string) (TranscriptPolicy, error) {
	switch p := TranscriptPolicy(strings.TrimSpace(s)); p {
	case TranscriptsFailed, TranscriptsSample, TranscriptsAll, TranscriptsNone:
		return p, nil
	}
	return "", fmt.Errorf("transcripts %q: valid policies are failed, sample, all, none", s)
}

// Transcripts configures which transcripts an Aggregator keeps (Meta.Transcripts).
// The zero value is the sample policy with DefaultTranscriptSample.
type Transcripts struct {
	// Policy is the policy; empty means TranscriptsSample.
	Policy TranscriptPolicy
	// Sample is the number of iterations per scenario whose conversations
	// the sample and all policies keep whatever their outcome; 0 means
	// DefaultTranscriptSample, negative means none.
	Sample int
	// Stream receives every conversation as one JSON line (a
	// TranscriptLine) when Policy is TranscriptsAll. Writes go through a
	// buffer under the Aggregator's own lock, so memory stays constant;
	// call Aggregator.FlushTranscripts before closing it. Nil with
	// TranscriptsAll keeps every conversation in the result instead.
	Stream io.Writer
	// StreamName is the name of the file Stream writes, recorded in the
	// result (TranscriptInfo.File).
	StreamName string
}

// policy returns the effective policy and sample size.
func (t Transcripts) policy() (TranscriptPolicy, int) {
	p := t.Policy
	if p == "" {
		p = TranscriptsSample
	}
	n := t.Sample
	if n == 0 {
		n = DefaultTranscriptSample
	}
	return p, max(n, 0)
}

// TranscriptLine is one line of a transcripts file: a conversation and the
// scenario and target it belongs to.
type TranscriptLine struct {
	Target   string `json:"target,omitempty"`
	Scenario string `json:"scenario"`
	// File is the scenario file.
	File string `json:"file,omitempty"`
	ConversationResult
}

// transcriptStream writes conversations to a JSON Lines stream. After the
// first write error it writes nothing more and remembers the error.
type transcriptStream struct {
	mu      sync.Mutex
	w       *bufio.Writer
	enc     *json.Encoder
	written int64
	err     error
}

func newTranscriptStream(w io.Writer) *transcriptStream {
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &transcriptStream{w: bw, enc: enc}
}

func (s *transcriptStream) write(line *TranscriptLine) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if err := s.enc.Encode(line); err != nil {
		s.err = fmt.Errorf("write transcripts: %w", err)
		return
	}
	s.written++
}

func (s *transcriptStream) flush() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		if err := s.w.Flush(); err != nil {
			s.err = fmt.Errorf("write transcripts: %w", err)
		}
	}
	return s.written, s.err
}

// keepTranscript reports whether the policy keeps a conversation in the
// result.
func keepTranscript(p TranscriptPolicy, sample int, streaming bool, c *ConversationResult) bool {
	bad := c.Outcome == runner.Failed || c.Outcome == runner.Errored || c.Outcome == runner.Throttled
	switch p {
	case TranscriptsNone:
		return false
	case TranscriptsFailed:
		return bad
	case TranscriptsAll:
		if !streaming {
			return true
		}
	}
	return bad || c.Iteration < sample
}

// maxTranscriptLine is the longest line ReadTranscripts reads.
const maxTranscriptLine = 64 << 20

// ReadTranscripts reads a transcripts file (JSON Lines of TranscriptLine)
// and calls fn for each line in order, one line in memory at a time. Blank
// lines are skipped. A line that is not a valid conversation is an error
// naming its line number; an error from fn stops the reading and is
// returned as is.
func ReadTranscripts(r io.Reader, fn func(*TranscriptLine) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxTranscriptLine)
	n := 0
	for sc.Scan() {
		n++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var line TranscriptLine
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&line); err != nil {
			var typ *json.UnmarshalTypeError
			if errors.As(err, &typ) {
				if typ.Field == "" {
					return &ReadError{Line: n, Col: 1, Msg: fmt.Sprintf("transcript: the line holds a JSON %s; want one JSON object per line", typ.Value), Err: err}
				}
				return &ReadError{Line: n, Col: 1, Field: jsonField(typ.Field), Msg: fmt.Sprintf("got JSON %s, want %s", typ.Value, jsonKind(typ.Type)), Err: err}
			}
			return &ReadError{Line: n, Col: 1, Msg: "transcript: " + err.Error() + "; want one complete JSON object per line (a line cut short is what a run killed while writing leaves last; the lines before it are complete)", Err: err}
		}
		if dec.More() {
			return &ReadError{Line: n, Col: 1, Msg: "transcript: more than one JSON value on the line; want one JSON object per line"}
		}
		if line.Scenario == "" {
			return &ReadError{Line: n, Col: 1, Field: "scenario", Msg: "empty; each line must name its scenario (is this an evalrun transcripts file?)"}
		}
		if err := line.ConversationResult.validate(""); err != nil {
			var re *ReadError
			if errors.As(err, &re) {
				re.Line, re.Col = n, 1
			}
			return err
		}
		if err := fn(&line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &ReadError{Line: n + 1, Col: 1, Msg: fmt.Sprintf("transcript: the line is longer than %d MiB, the most a line may hold; is this an evalrun transcripts file?", maxTranscriptLine>>20), Err: err}
		}
		return &ReadError{Line: n + 1, Col: 1, Msg: "transcripts: " + err.Error(), Err: err}
	}
	return nil
}
