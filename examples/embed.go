// Package examples holds evalrun's demo suite and the agent files of the
// simulated agent, and embeds the default agent so the evalrun binary can
// run its demo with no files on disk.
package examples

import _ "embed"

// BaselineAgent is examples/agents/baseline.agent.yaml, the agent file of the
// built-in simulated agent that `evalrun run` targets when no --target is
// given and `evalrun serve` serves by default. Parse it with
// agentsim.ParseAgent.
//
//go:embed agents/baseline.agent.yaml
var BaselineAgent []byte
