package agent

import (
	"fmt"
	"strings"
)

// Target kinds accepted by New (and by `--kind` and a target's `kind:`).
const (
	TargetOptimly = "optimly" // the Optimly external API (NewOptimly)
	TargetOpenAI  = "openai"  // an OpenAI-compatible chat completions server (NewOpenAI)
	TargetHTTP    = "http"    // any JSON-over-HTTP chat API by configuration (NewHTTP)
)

// TargetKinds lists the kinds New accepts.
var TargetKinds = []string{TargetOptimly, TargetOpenAI, TargetHTTP}

// New builds the transport of a target kind: "optimly" (kindConfig nil),
// "openai" (kindConfig an OpenAIConfig or *OpenAIConfig) or "http"
// (kindConfig an HTTPConfig or *HTTPConfig). Every transport returned has
// a Close method (see Closer) and is checked as its constructor checks it.
func New(kind string, opts Options, kindConfig any) (Conn, error) {
	switch strings.ToLower(kind) {
	case "", TargetOptimly:
		if kindConfig != nil {
			return nil, fmt.Errorf("agent: kind optimly takes no kind configuration, got %T", kindConfig)
		}
		return NewOptimly(opts)
	case TargetOpenAI:
		switch c := kindConfig.(type) {
		case OpenAIConfig:
			return NewOpenAI(opts, c)
		case *OpenAIConfig:
			if c != nil {
				return NewOpenAI(opts, *c)
			}
		}
		return nil, fmt.Errorf("agent: kind openai needs an OpenAIConfig (at least a model), got %T", kindConfig)
	case TargetHTTP:
		switch c := kindConfig.(type) {
		case HTTPConfig:
			return NewHTTP(opts, c)
		case *HTTPConfig:
			if c != nil {
				return NewHTTP(opts, *c)
			}
		}
		return nil, fmt.Errorf("agent: kind http needs an HTTPConfig (at least send and reply_path), got %T", kindConfig)
	}
	return nil, fmt.Errorf("agent: kind %q: valid kinds are %s", kind, strings.Join(TargetKinds, ", "))
}

// Closer is implemented by every transport New returns: Close releases
// idle connections.
type Closer interface{ Close() }

// NewChatCost returns how many agent calls one NewChat of c makes: 0 for a
// transport that keeps chats client-side (see CallCoster), else 1.
func NewChatCost(c Conn) int {
	if cc, ok := c.(CallCoster); ok {
		return cc.NewChatCalls()
	}
	return 1
}
