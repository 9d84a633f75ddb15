package agent

import "testing"

// BenchmarkDecodeReplyFastSlow decodes the simulated agent's reply to a pricing
// question: the fast path, and encoding/json (decodeReplySlow) for
// comparison.
func BenchmarkDecodeReplyFastSlow(b *testing.B) {
	body := []byte(`{"agent_id":"peers-bench","chat_id":"chat_cbf32b9847ca2876","response":"The Growth plan costs $99/mo and includes 10 agent seats, live chat, automations and all standard integrations.","message_id":"msg_73207d2061770020","timestamp":"2026-11-27T09:31:38.124205Z","tools_executed":[],"handoff_data":null,"metadata":{"processing_time":0,"tokens_used":8,"knowledge_chunks_used":1}}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeReply(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeReplySlow(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
