package agent

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func parseAll(r io.Reader, maxLine int) ([]sseEvent, error) {
	p := newSSEParser(r, maxLine)
	var out []sseEvent
	for range 10000 {
		ev, err := p.next()
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
	return out, errors.New("too many events")
}

func TestSSEParser(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []sseEvent
		err  error
	}{
		{"one event", "data: hi\n\n", []sseEvent{{Data: "hi"}}, io.EOF},
		{"done", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []sseEvent{{Data: `{"a":1}`}, {Data: "[DONE]"}}, io.EOF},
		{"multi-line data", "data: a\ndata: b\ndata\n\n", []sseEvent{{Data: "a\nb\n"}}, io.EOF},
		{"no space after colon", "data:x\n\n", []sseEvent{{Data: "x"}}, io.EOF},
		{"only one space dropped", "data:  x\n\n", []sseEvent{{Data: " x"}}, io.EOF},
		{"comments and keep-alives", ": ping\n\n:\ndata: a\n: mid\n\n", []sseEvent{{Data: "a"}}, io.EOF},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []sseEvent{{Data: "a"}, {Data: "b"}}, io.EOF},
		{"lone cr", "data: a\r\rdata: b\r\r", []sseEvent{{Data: "a"}, {Data: "b"}}, io.EOF},
		{"event and id", "event: error\nid: 7\ndata: boom\n\n", []sseEvent{{Event: "error", ID: "7", Data: "boom"}}, io.EOF},
		{"event without data is dropped", "event: ping\n\ndata: x\n\n", []sseEvent{{Data: "x"}}, io.EOF},
		{"unknown fields ignored", "retry: 100\nfoo: bar\ndata: x\n\n", []sseEvent{{Data: "x"}}, io.EOF},
		{"unterminated last event dropped", "data: a\n\ndata: cut", []sseEvent{{Data: "a"}}, io.EOF},
		{"unterminated event without blank line", "data: a\n", nil, io.EOF},
		{"empty", "", nil, io.EOF},
		{"long line", "data: " + strings.Repeat("x", 100) + "\n\n", nil, errSSELine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := parseAll(r, 64)
				if !errors.Is(err, tt.err) {
					t.Fatalf("error %v, want %v", err, tt.err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("events %q, want %q", got, tt.want)
				}
			}
		})
	}
}

// FuzzSSE checks that parsing never panics, that events respect the size
// bound, and that how the bytes arrive (one read or byte by byte) does not
// change the events.
func FuzzSSE(f *testing.F) {
	for _, s := range []string{
		"data: hi\n\n", "data: a\r\ndata: b\r\n\r\n", ": ping\n\ndata: [DONE]\n\n", "data:x\r\r",
		"event: error\ndata: {\"error\":{\"message\":\"x\"}}\n\n", "data: a\n\ndata: cut", "id: 1\x00\ndata: z\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, errA := parseAll(strings.NewReader(string(in)), 256)
		b, errB := parseAll(iotest.OneByteReader(strings.NewReader(string(in))), 256)
		if !reflect.DeepEqual(a, b) || (errA == nil) != (errB == nil) {
			t.Fatalf("whole %q (%v) vs byte by byte %q (%v)", a, errA, b, errB)
		}
		for _, ev := range a {
			if len(ev.Data) > 256 {
				t.Fatalf("event data of %d bytes over the bound", len(ev.Data))
			}
		}
	})
}
