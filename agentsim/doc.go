// Package agentsim is a simulated agent that speaks the Optimly external API:
// the built-in default target of `evalrun run`, the fixture of evalrun's tests
// and the target of its benchmarks.
//
// It also plays an OpenAI-compatible chat completions server
// (POST /v1/chat/completions, streamed or not; see openai.go) with the same
// knowledge, tools, latency and faults, and accepts the key as a Bearer
// token, an X-API-Key header or an api_key query parameter on the Optimly
// endpoints.
//
// An agent file (YAML, see examples/agents/baseline.agent.yaml) describes the agent:
// its API keys, a knowledge base of entries matched by keywords and phrases, a
// fallback answer, the tools it runs (lead capture, appointment booking, human
// handoff), a latency model, injected faults, a monthly call quota and the
// published rate limits. ParseAgent reads one strictly; New turns it into an
// http.Handler; Start serves it on a loopback address.
//
// Replies are deterministic: for a given seed, the reply to a message depends
// only on the message and on its turn number within its chat, never on timing
// or on other chats running concurrently. Latency and faults are drawn from a
// pseudo-random sequence keyed by the seed and a request counter, so they are
// reproducible in distribution but not per request under concurrency.
//
// The server is cheap on its hot path (no per-request regexp, pooled buffers,
// hand-written JSON) so that benchmarks measure the client, not the fixture.
package agentsim
