package runner

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/evalrun/evalrun/agent"
)

// openChat opens the conversation's chat and returns it with the time the
// chat was ready; false when it could not be opened (c is then settled).
//
// A chat that costs an agent call (agent.NewChatCost 1, e.g. Optimly's
// new-chat endpoint) is a call like a turn: paced by the limiters, charged
// to the conversation's reservation, retried and reported to the Observer.
// A chat the transport keeps client-side (cost 0: openai targets, http
// targets without a create-session request) is no agent call: it is not
// paced, charged or reported, and the reservation does not include it.
func (r *run) openChat(c *Conversation, res *Reservation, rng *rand.Rand) (agent.Chat, time.Time, bool) {
	req := agent.NewChatRequest{ClientID: c.ClientID}
	var chat agent.Chat
	if r.opts.newChatCalls == 0 {
		chat, err := r.opts.Conn.NewChat(r.callBase, req)
		if err != nil {
			settle(c, Errored, "new chat: "+err.Error())
			return chat, time.Time{}, false
		}
		return chat, time.Now(), true
	}
	out := r.call(c, CallNewChat, -1, c.Scheduled, res, rng, func(ctx context.Context) error {
		var err error
		chat, err = r.opts.Conn.NewChat(ctx, req)
		return err
	})
	if !out.ok() {
		r.fail(c, out, "new chat: ")
		return chat, time.Time{}, false
	}
	return chat, out.end, true
}
