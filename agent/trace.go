package agent

import (
	"crypto/rand"
	"encoding/hex"
)

// Every request carries two ids that a server's logs can be joined on:
//
//   - X-Request-ID: unique per attempt (a retry gets a new one): a random
//     prefix chosen when the transport is built, a dash and a counter, e.g.
//     "9f3a01c2-17". Reply.RequestID and Error.RequestID carry it back.
//   - traceparent (W3C Trace Context, version 00, sampled): the trace id is
//     the chat's (Chat.TraceID, chosen by NewChat), so all calls of one
//     conversation share it, and the span id is new for every attempt.

// NewTraceID returns a random W3C trace id: 32 lower-case hex digits, not
// all zero.
func NewTraceID() string { return nonZeroHex(16) }

func newTraceID() string { return NewTraceID() }

func nonZeroHex(n int) string {
	for {
		s := randomHex(n)
		for i := 0; i < len(s); i++ {
			if s[i] != '0' {
				return s
			}
		}
	}
}

// randomHex returns n random bytes as 2n hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// validTraceID reports whether s is 32 lower-case hex digits, not all zero.
func validTraceID(s string) bool {
	if len(s) != 32 {
		return false
	}
	zero := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
		if c != '0' {
			zero = false
		}
	}
	return !zero
}
