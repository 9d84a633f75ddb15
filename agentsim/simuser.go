package agentsim

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/evalrun/evalrun/scenarios"
)

// SimUser is a deterministic, rule-based simulated user for scenarios
// with simulate: (scenarios.UserSimulator), used by the tests, CI and the
// demo suite when no user model is configured. It reads no free text the
// way a model would; its rules are:
//
//   - The goal is met once every double-quoted term of the goal has
//     appeared in the agent's replies so far (any case) or names a tool
//     the agent ran. A goal without quoted terms is never met by the rules:
//     quote what the agent must say or do, e.g. `I want a quote and a call
//     back "within one business day".`
//   - The first message is the goal with its quotes removed.
//   - Each next message is a sentence of the persona not yet said: the one
//     sharing the most words (of four letters or more, any case) with the
//     agent's last reply, else the first left. So a persona `I'm Ana.
//     Reach me at ana@example.com.` answers "what is your email?" with
//     its email sentence.
//   - With the persona all said, it asks about each quoted term of the
//     goal not yet mentioned ("What about X?"), once each; then it gives
//     up (Done, not met), saying which terms never came up.
//   - The seed picks a short acknowledgement ("OK. ", "Thanks. ", …)
//     before each message after the first: the same seed writes the same
//     conversation.
//
// It makes no network calls and is safe for concurrent use.
type SimUser struct{}

// NewSimUser returns the rule-based simulated user.
func NewSimUser() *SimUser { return &SimUser{} }

// acks are the acknowledgements the seed picks from.
var acks = []string{"", "OK. ", "Thanks. ", "I see. "}

// Next implements scenarios.UserSimulator.
func (*SimUser) Next(ctx context.Context, q scenarios.SimRequest) (scenarios.SimStep, error) {
	if err := ctx.Err(); err != nil {
		return scenarios.SimStep{}, err
	}
	terms := quotedTerms(q.Goal)
	missing := missingTerms(terms, q.Transcript)
	if len(q.Transcript) > 0 && len(terms) > 0 && len(missing) == 0 {
		return scenarios.SimStep{Done: true, GoalMet: true,
			Reason: fmt.Sprintf("the agent covered %s", quoteList(terms))}, nil
	}
	notMet := func(why string) scenarios.SimStep {
		return scenarios.SimStep{Done: true, Reason: why}
	}
	if q.Last {
		if len(terms) == 0 {
			return notMet("the goal names no quoted terms to check"), nil
		}
		return notMet(fmt.Sprintf("after %d turns the agent never mentioned %s", len(q.Transcript), quoteList(missing))), nil
	}
	if len(q.Transcript) == 0 {
		return scenarios.SimStep{Message: unquote(q.Goal)}, nil
	}
	said := map[string]bool{}
	for _, t := range q.Transcript {
		said[norm(t.User)] = true
	}
	last := q.Transcript[len(q.Transcript)-1].Agent
	ack := acks[(q.Seed+uint64(len(q.Transcript)))%uint64(len(acks))]
	if s := bestSentence(sentences(q.Persona), said, last); s != "" {
		return scenarios.SimStep{Message: ack + s}, nil
	}
	for _, m := range missing {
		msg := "What about " + m + "?"
		if !said[norm(msg)] && !said[norm(ack+msg)] && !saidSuffix(said, norm(msg)) {
			return scenarios.SimStep{Message: ack + msg}, nil
		}
	}
	if len(terms) == 0 {
		return notMet("the goal names no quoted terms to check"), nil
	}
	return notMet(fmt.Sprintf("gave up: the agent never mentioned %s", quoteList(missing))), nil
}

// quotedTerms returns the double-quoted terms of s, in order.
func quotedTerms(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+1:], '"')
		if j < 0 {
			return out
		}
		if t := strings.TrimSpace(s[i+1 : i+1+j]); t != "" {
			out = append(out, t)
		}
		s = s[i+2+j:]
	}
}

// missingTerms returns the terms that no reply mentions and no tool run
// names.
func missingTerms(terms []string, tr []scenarios.SimTurn) []string {
	var out []string
	for _, term := range terms {
		lt := strings.ToLower(term)
		found := false
		for _, t := range tr {
			if strings.Contains(strings.ToLower(t.Agent), lt) {
				found = true
				break
			}
			for _, tool := range t.Tools {
				if strings.EqualFold(tool.Name, term) {
					found = true
				}
			}
		}
		if !found {
			out = append(out, term)
		}
	}
	return out
}

func quoteList(terms []string) string {
	q := make([]string, len(terms))
	for i, t := range terms {
		q[i] = `"` + t + `"`
	}
	return strings.Join(q, ", ")
}

// unquote removes double quotes.
func unquote(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, `"`, "")) }

// sentences splits text after '.', '!' or '?' followed by a space.
func sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		if (text[i] == '.' || text[i] == '!' || text[i] == '?') && (i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\n') {
			if s := strings.TrimSpace(text[start : i+1]); s != "" {
				out = append(out, unquote(s))
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, unquote(s))
	}
	return out
}

// bestSentence picks the unsaid sentence sharing the most words with
// reply, the earliest on a tie; "" when all were said.
func bestSentence(ss []string, said map[string]bool, reply string) string {
	words := wordSet(reply)
	best, bestScore := "", -1
	for _, s := range ss {
		if said[norm(s)] || saidSuffix(said, norm(s)) {
			continue
		}
		score := 0
		for w := range wordSet(s) {
			if words[w] {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = s, score
		}
	}
	return best
}

// saidSuffix reports whether a message was said after an acknowledgement.
func saidSuffix(said map[string]bool, s string) bool {
	for _, a := range acks[1:] {
		if said[norm(a+s)] {
			return true
		}
	}
	return false
}

// wordSet is the set of lower-cased words of four letters or more.
func wordSet(s string) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len([]rune(w)) >= 4 {
			out[w] = true
		}
	}
	return out
}

func norm(s string) string { return strings.Join(strings.Fields(s), " ") }
