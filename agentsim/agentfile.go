package agentsim

import (
	"fmt"
	"time"

	"github.com/evalrun/evalrun/internal/regularfile"
)

// Agent is a parsed agent file: everything the simulated agent needs to
// answer. ParseAgent fills it from YAML and checks it; code (tests) may also
// build one directly, in which case New tolerates odd values rather than fail
// (fractions are clamped, negative numbers mean "off").
type Agent struct {
	// Name is the agent's display name (required in a file).
	Name string
	// ID is the agent_id reported in responses. Default: Name in lower case
	// with runs of non-alphanumerics replaced by "-".
	ID string
	// APIKeys are the accepted keys (at least one in a file). A request must
	// carry one as "Authorization: Bearer KEY" or "X-API-Key: KEY".
	APIKeys []string
	// Seed keys every pseudo-random choice: reply openers, latency, faults,
	// chat and message ids.
	Seed int64
	// Personality shapes the wording of replies.
	Personality Personality
	// Knowledge is the knowledge base, in file order (ties go to the first).
	Knowledge []Entry
	// Fallback answers a message that matches no entry, greeting or tool
	// (required in a file).
	Fallback string
	// Tools are the tools the agent runs; a tool absent from the file is off.
	Tools Tools
	// Latency is the simulated processing time added to every agent call.
	Latency LatencyModel
	// Faults are the fractions of agent calls answered with a fault.
	Faults Faults
	// Quota is the monthly plan quota in agent calls; 0 means unlimited. Calls
	// beyond it are answered 429 with a "quota exceeded" message.
	Quota int64
	// Limits are the published rate limits; zero fields are off.
	Limits Limits
	// Envelope wraps every body as {"success":true,"data":...} and errors as
	// {"success":false,"error":...,"detail":...}, as some Optimly docs show.
	Envelope bool
}

// Personality shapes the wording of replies.
type Personality struct {
	// Greeting answers a message that opens with hello/hi/hey and matches
	// nothing else. Default: "Hello! How can I help you today?".
	Greeting string
	// Openers are optional prefixes (e.g. "Good question! "), one of which is
	// picked deterministically (seed, turn number, message) and put in front
	// of knowledge answers. An empty string in the list means "no opener".
	Openers []string
}

// Entry is one knowledge-base entry. A message scores one point per keyword
// it contains and two points per word of each phrase it contains (so phrases
// beat loose keywords); the best-scoring entry answers. Matching ignores case
// and punctuation and treats simple plurals ("plans", "policies") as their
// singular.
type Entry struct {
	// Topic is a label for people reading the file; it is not matched.
	Topic string
	// Keywords are single words (a keyword with spaces acts as a phrase).
	Keywords []string
	// Phrases are word sequences that must appear in order, adjacent.
	Phrases []string
	// Answer is the reply text.
	Answer string
}

// Tools configures the tools the agent runs. A tool is on when it appears in
// the agent file (even as `{}`), unless it says `enabled: false`.
type Tools struct {
	// LeadCapture runs when a message carries an email address or a phone
	// number. Its data holds "email", "phone" and "name" (from "I'm Jane" or
	// "my name is Jane") when present.
	LeadCapture Tool
	// Appointment runs when a message asks to book or schedule and names a
	// day or date and a time. Its data holds "when", the matched text.
	Appointment Tool
	// EmailHandoff runs when a message asks to talk to a human, person,
	// agent or representative. It also fills handoff_data.
	EmailHandoff Tool
}

// Tool is one tool's settings.
type Tool struct {
	// Enabled turns the tool on.
	Enabled bool
	// Reply is the text that acknowledges the tool, with placeholders:
	// {name} (removed together with the space before it when no name was
	// given), {email}, {phone}, {contact} (the email, else the phone),
	// {when} and {queue}. Default: see DefaultLeadReply and its siblings.
	Reply string
	// Queue is the handoff queue reported in handoff_data (email_handoff
	// only). Default: "sales".
	Queue string
}

// Default tool replies, used when a tool sets no reply of its own.
const (
	DefaultLeadReply        = "Thanks {name}, our sales team will contact you at {contact}."
	DefaultAppointmentReply = "You're booked for {when}. A calendar invite is on its way."
	DefaultHandoffReply     = "I'm handing you over to our {queue} team; a person will follow up by email shortly."
	DefaultGreeting         = "Hello! How can I help you today?"
	DefaultQueue            = "sales"
)

// LatencyModel is the simulated processing time of an agent call. Either
// Fixed, or a log-normal distribution given by its Median and P99; all zero
// means no added latency.
type LatencyModel struct {
	Median time.Duration
	P99    time.Duration
	Fixed  time.Duration
}

// Faults are fractions (0..1) of agent calls that fail on purpose. They are
// drawn in this order from one uniform number per call, so their sum must not
// exceed 1. Health checks are never faulted.
type Faults struct {
	// Throttle answers 429 "Rate limit exceeded" with a Retry-After of
	// RetryAfter.
	Throttle float64
	// Error500 answers 500 "Internal server error".
	Error500 float64
	// Error503 answers 503 "Service temporarily unavailable".
	Error503 float64
	// Drop closes the connection without any response.
	Drop float64
	// Malformed answers 200 with a truncated JSON body (the call did happen).
	Malformed float64
	// Slow sends the headers and half the body, stalls SlowDelay, then sends
	// the rest.
	Slow float64
	// SlowDelay is the stall of a slow answer (required when Slow > 0).
	SlowDelay time.Duration
	// RetryAfter is the Retry-After of a throttle fault, sent in whole
	// seconds (rounded up). ParseAgent sets 1s when the file gives no
	// retry_after; the zero value sends "Retry-After: 0" (retry at once),
	// which keeps tests that throttle fast.
	RetryAfter time.Duration
}

// any reports whether some fault has a positive fraction.
func (f Faults) any() bool {
	return f.Throttle > 0 || f.Error500 > 0 || f.Error503 > 0 || f.Drop > 0 || f.Malformed > 0 || f.Slow > 0
}

// Limits are the published rate limits, each counted over a fixed window that
// starts when the server starts. Calls over a limit are answered 429 with a
// Retry-After of the seconds left in the window. Zero means no limit.
type Limits struct {
	// PerMinute and PerHour bound all agent calls.
	PerMinute int64
	PerHour   int64
	// NewChatsPerMinute bounds new-chat calls.
	NewChatsPerMinute int64
	// V1PerMinute bounds calls to the legacy v1 endpoint.
	V1PerMinute int64
}

func (l Limits) any() bool {
	return l.PerMinute > 0 || l.PerHour > 0 || l.NewChatsPerMinute > 0 || l.V1PerMinute > 0
}

// LoadAgent reads and parses the agent file at path (see ParseAgent).
func LoadAgent(path string) (*Agent, error) {
	data, err := regularfile.ReadFile(path, maxAgentFile)
	if regularfile.IsNotRegular(err) {
		return nil, fmt.Errorf("agent file %s: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("agent file: %w", err)
	}
	return ParseAgent(path, data)
}
