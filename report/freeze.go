package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/evalrun/evalrun/scenarios"
)

// Freeze turns the stored transcript of conversation id of res into a
// scripted scenario file, for regression: each turn sends the message as
// it was sent (by the script, the opening or the simulated user) and
// expects the tools the agent ran then (`tool: NAME`) and a handoff when it
// handed off. The file says where it came from in a comment and is named
// SCENARIO-frozen-ID. It fails when the result does not keep that
// conversation's transcript.
func Freeze(res *Result, source string, id int) ([]byte, error) {
	var sr *ScenarioResult
	var c *ConversationResult
	for i := range res.Scenarios {
		for j := range res.Scenarios[i].Conversations {
			if res.Scenarios[i].Conversations[j].ID == id {
				sr, c = &res.Scenarios[i], &res.Scenarios[i].Conversations[j]
			}
		}
	}
	if c == nil {
		return nil, fmt.Errorf("%s keeps no transcript of conversation %d (ids are those of the result's conversations; run with --transcripts all to keep every one)", source, id)
	}
	if len(c.Turns) == 0 {
		return nil, fmt.Errorf("conversation %d of %s sent no turn: nothing to freeze", id, source)
	}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	pair := func(m *yaml.Node, k string, v *yaml.Node) { m.Content = append(m.Content, str(k), v) }
	doc := &yaml.Node{Kind: yaml.MappingNode}
	how := "scripted"
	if c.Simulation != nil {
		how = "simulated, " + c.Simulation.Ended
	}
	doc.HeadComment = fmt.Sprintf("Frozen by evalrun freeze from %s: conversation %d of scenario %s\n(iteration %d, %s, outcome %s). Each turn sends the message as sent then\nand expects the tools the agent ran then.", source, id, sr.Name, c.Iteration+1, how, c.Outcome)
	pair(doc, "name", str(sr.Name+"-frozen-"+strconv.Itoa(id)))
	pair(doc, "description", str(fmt.Sprintf("Conversation %d of %s, replayed as a script", id, sr.Name)))
	pair(doc, "tags", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{str("frozen")}})
	turns := &yaml.Node{Kind: yaml.SequenceNode}
	for _, t := range c.Turns {
		if strings.Contains(t.Sent, "{{") {
			return nil, fmt.Errorf("conversation %d, turn %d: the message holds \"{{\", which a scenario file reads as a template (it has no escape for it); it cannot be frozen as sent", id, t.Index+1)
		}
		tn := &yaml.Node{Kind: yaml.MappingNode}
		user := str(t.Sent)
		if t.By != "" {
			user.LineComment = "by " + t.By
		}
		pair(tn, "user", user)
		var expect []*yaml.Node
		seen := map[string]bool{}
		for _, tool := range t.Tools {
			if (tool.Status == scenarios.StatusExecuted || tool.Status == scenarios.StatusCalled) && !seen[tool.Tool] {
				seen[tool.Tool] = true
				e := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
				pair(e, "tool", str(tool.Tool))
				expect = append(expect, e)
			}
		}
		if t.Handoff {
			e := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			pair(e, "handoff", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
			expect = append(expect, e)
		}
		if len(expect) > 0 {
			pair(tn, "expect", &yaml.Node{Kind: yaml.SequenceNode, Content: expect})
		}
		turns.Content = append(turns.Content, tn)
	}
	pair(doc, "turns", turns)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	return b.Bytes(), nil
}
