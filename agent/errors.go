package agent

import (
	"fmt"
	"time"
)

// ErrorKind classifies a failed call so callers can decide whether to retry
// and how to account for it.
type ErrorKind int

const (
	// KindTransport: the request could not be sent or the connection broke.
	KindTransport ErrorKind = iota + 1
	// KindTimeout: the call did not finish within its timeout (Options.Timeout,
	// or the runner's per-call timeout).
	KindTimeout
	// KindThrottled: the server answered 429 (rate limited).
	KindThrottled
	// KindQuotaExhausted: the server says the monthly quota is used up
	// (a 402, or a 429/403 whose message says so).
	KindQuotaExhausted
	// KindClient: any other 4xx (bad key, unknown chat, validation error).
	KindClient
	// KindServer: a 5xx.
	KindServer
	// KindProtocol: a 2xx whose body is not what the API documents (or a
	// response that is neither 2xx, 4xx nor 5xx, such as a redirect).
	KindProtocol
	// KindCanceled: the caller's own context was cancelled (or reached the
	// caller's deadline) before the call finished. Err wraps the context's
	// error, so errors.Is(err, context.Canceled) tells an interrupted run.
	// It is never retryable.
	KindCanceled
)

// String returns the kind's short name as used in reports:
// transport, timeout, throttled, quota_exhausted, client, server, protocol,
// canceled.
func (k ErrorKind) String() string {
	switch k {
	case KindTransport:
		return "transport"
	case KindTimeout:
		return "timeout"
	case KindThrottled:
		return "throttled"
	case KindQuotaExhausted:
		return "quota_exhausted"
	case KindClient:
		return "client"
	case KindServer:
		return "server"
	case KindProtocol:
		return "protocol"
	case KindCanceled:
		return "canceled"
	}
	return fmt.Sprintf("ErrorKind(%d)", int(k))
}

// Error is the error every transport returns for a failed call.
type Error struct {
	Kind   ErrorKind
	Op     string // "new-chat", "send", "health"
	Status int    // HTTP status, 0 when none was received
	// RetryAfter is the server's Retry-After, zero when absent.
	RetryAfter time.Duration
	// Detail is a short, secret-free description (e.g. the server's message).
	Detail string
	Err    error // underlying error, may be nil
	// RequestID is the X-Request-ID of the failed attempt ("" when no
	// request was built), for finding it in the server's logs. It is not
	// part of Error().
	RequestID string
	// Unsent is true when not a byte of the request's headers was written
	// to a connection (the dial, the TLS handshake or the wait for a pooled
	// connection failed), so the agent cannot have processed it. False
	// means it may have been, or that the transport cannot tell.
	Unsent bool
}

// Error returns "op: kind (HTTP status): detail: underlying error", leaving
// out the parts that are empty. It never contains the API key.
func (e *Error) Error() string {
	s := e.Op + ": " + e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, so errors.Is(err, context.Canceled)
// and errors.Is(err, context.DeadlineExceeded) work through an *Error.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same call may be sent again without the
// agent processing it twice: an answer that says it was not processed
// (429, 502, 503, 504), or a failure before the request was written
// (Unsent: a refused connection, a failed dial or TLS handshake, a timeout
// while connecting). A transport failure or timeout after the request was
// written (EOF, reset, no answer in time) is not retryable: the agent may
// have acted on it (booked the appointment, sent the handoff email).
func (e *Error) Retryable() bool {
	switch e.Kind {
	case KindThrottled:
		return true
	case KindServer:
		return e.Status == 502 || e.Status == 503 || e.Status == 504
	case KindTimeout, KindTransport:
		return e.Unsent
	}
	return false
}
