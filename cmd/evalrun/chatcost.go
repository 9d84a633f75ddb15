package main

import (
	"strings"

	"github.com/evalrun/evalrun/agent"
)

// kindNewChatCalls returns how many agent calls one new chat of a target of
// the kind makes, known before any transport is built (a dry run builds
// none): 0 for openai, whose chats live client-side; 1 for optimly (its
// new-chat endpoint) and for http, whose create-session request, when its
// configuration has one, is a call. It agrees with agent.NewChatCost on the
// built transport except for an http target without a create-session
// request, which is counted at the worst case; use newChatCalls when the
// http configuration is at hand.
func kindNewChatCalls(kind string) int {
	if strings.EqualFold(kind, agent.TargetOpenAI) {
		return 0
	}
	return 1
}

// newChatCalls returns how many agent calls one new chat of t makes, as
// agent.NewChatCost does on the transport buildConn builds from t.
func (t targetSpec) newChatCalls() int {
	if strings.EqualFold(t.Kind, agent.TargetHTTP) && t.HTTP != nil {
		if t.HTTP.CreateSession == nil {
			return 0
		}
		return 1
	}
	return kindNewChatCalls(t.Kind)
}
