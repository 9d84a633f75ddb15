package agent

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// sseEvent is one server-sent event (the fields evalrun uses).
type sseEvent struct {
	Event string // the "event:" field; "" means "message"
	Data  string // the "data:" lines joined with "\n"
	ID    string
}

// sseParser reads a text/event-stream (WHATWG HTML §9.2) event by event:
// lines end in CRLF, LF or CR; "data:" lines of one event are joined with
// newlines; one leading space of a value is dropped; lines starting with ':'
// are comments (keep-alives); an event is dispatched by a blank line and
// only if it has data; an event not ended by a blank line when the stream
// ends is discarded.
type sseParser struct {
	r       *bufio.Reader
	maxLine int
	line    []byte
	afterCR bool // the last line ended in CR: skip an LF that follows
	data    bytes.Buffer
	hasData bool
	event   string
	id      string
}

// errSSELine is returned for a line longer than the parser allows.
var errSSELine = errors.New("event stream line too long")

func newSSEParser(r io.Reader, maxLine int) *sseParser {
	return &sseParser{r: bufio.NewReaderSize(r, 4096), maxLine: maxLine}
}

// readLine returns the next line without its terminator. io.EOF means the
// stream ended (a last unterminated line is dropped, as the spec says).
func (p *sseParser) readLine() ([]byte, error) {
	p.line = p.line[:0]
	for {
		b, err := p.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if p.afterCR {
			p.afterCR = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return p.line, nil
		case '\r':
			p.afterCR = true
			return p.line, nil
		}
		if len(p.line) >= p.maxLine {
			return nil, fmt.Errorf("%w (over %d bytes)", errSSELine, p.maxLine)
		}
		p.line = append(p.line, b)
	}
}

// next returns the next event with data. It returns io.EOF at the end of
// the stream, or the reader's error.
func (p *sseParser) next() (sseEvent, error) {
	for {
		line, err := p.readLine()
		if err != nil {
			p.reset()
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !p.hasData {
				p.event = "" // an event without data is not dispatched
				continue
			}
			ev := sseEvent{Event: p.event, Data: p.data.String(), ID: p.id}
			p.data.Reset()
			p.hasData, p.event = false, ""
			return ev, nil
		}
		if line[0] == ':' {
			continue // comment, e.g. a keep-alive
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if p.hasData {
				p.data.WriteByte('\n')
			}
			if p.data.Len()+len(value) > p.maxLine {
				return sseEvent{}, fmt.Errorf("%w (event data over %d bytes)", errSSELine, p.maxLine)
			}
			p.data.Write(value)
			p.hasData = true
		case "event":
			p.event = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				p.id = string(value)
			}
		}
		// "retry" and unknown fields are ignored.
	}
}

func (p *sseParser) reset() {
	p.data.Reset()
	p.hasData, p.event = false, ""
}
