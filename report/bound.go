package report

import (
	"strconv"
	"unicode/utf8"

	"github.com/evalrun/evalrun/scenarios"
)

// MaxStoredText is the most of one text a result keeps: a turn's sent text,
// reply, raw body and error, a verdict's reason, a conversation's reason. A longer
// text is cut there (at a character boundary) and marked with its whole
// length, so a result stays bounded however large the agent's replies are;
// the transcripts stream (TranscriptsAll) carries every text whole.
const MaxStoredText = 4 << 10

// boundText returns s cut to MaxStoredText bytes, marked, when longer.
func boundText(s string) string {
	if len(s) <= MaxStoredText {
		return s
	}
	cut := MaxStoredText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	// A new string: the long one is not kept alive by a slice of it.
	return string([]byte(s[:cut])) + "… [cut: " + strconv.Itoa(len(s)) + " bytes in all]"
}

// boundRecord returns rec with every text bounded (boundText). rec itself,
// which may be being streamed, is not changed: what is cut is copied.
func boundRecord(rec ConversationResult) ConversationResult {
	long := len(rec.Reason) > MaxStoredText
	for i := range rec.Turns {
		t := &rec.Turns[i]
		if len(t.Sent) > MaxStoredText || len(t.Reply) > MaxStoredText || len(t.Raw) > MaxStoredText || len(t.Error) > MaxStoredText {
			long = true
		}
		for _, v := range t.Verdicts {
			if len(v.Reason) > MaxStoredText || len(v.Expectation) > MaxStoredText {
				long = true
			}
		}
	}
	for _, v := range rec.Verdicts {
		if len(v.Reason) > MaxStoredText || len(v.Expectation) > MaxStoredText {
			long = true
		}
	}
	if !long {
		return rec
	}
	rec.Reason = boundText(rec.Reason)
	turns := make([]TurnRecord, len(rec.Turns))
	for i, t := range rec.Turns {
		t.Sent, t.Reply, t.Raw, t.Error = boundText(t.Sent), boundText(t.Reply), boundText(t.Raw), boundText(t.Error)
		if len(t.Verdicts) > 0 {
			vs := make([]scenarios.Verdict, len(t.Verdicts))
			for j, v := range t.Verdicts {
				v.Reason, v.Expectation = boundText(v.Reason), boundText(v.Expectation)
				vs[j] = v
			}
			t.Verdicts = vs
		}
		turns[i] = t
	}
	rec.Turns = turns
	rec.Verdicts = boundVerdicts(rec.Verdicts)
	return rec
}

// boundVerdicts returns a copy of vs with every text bounded, or nil.
func boundVerdicts(vs []scenarios.Verdict) []scenarios.Verdict {
	if len(vs) == 0 {
		return nil
	}
	out := make([]scenarios.Verdict, len(vs))
	for i, v := range vs {
		v.Reason, v.Expectation = boundText(v.Reason), boundText(v.Expectation)
		out[i] = v
	}
	return out
}
