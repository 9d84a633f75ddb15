package agentsim

import "strings"

// reply is the agent's answer to one message, before encoding.
type reply struct {
	text              string
	entry             int // best knowledge entry, -1 if none
	matched           int // entries that scored
	email, phone      string
	name              string
	lead              bool
	when              string
	handoff           bool
	summary           string
	wordsIn, wordsOut int
}

// answer composes the reply to content, the turn-th message of its chat. It
// depends only on the agent, turn and content (that is what makes replies
// deterministic for a seed). withTools is false for the legacy v1 endpoint,
// which answers from the knowledge base only.
//
// The text is: the acknowledgements of the tools that ran (lead capture,
// appointment, handoff, in that order), then the best knowledge answer
// (after an opener, if the personality has some). With neither, a message
// that opens with a greeting gets the greeting, and anything else the
// fallback.
func (s *Server) answer(turn int, content string, withTools bool, sc *scratch) reply {
	rep := reply{entry: -1}
	sc.norm = appendNorm(sc.norm[:0], content)
	rep.entry, rep.matched = s.kb.match(sc.norm)
	t := &s.agent.Tools

	var acks []string
	if withTools {
		if t.LeadCapture.Enabled {
			rep.email, rep.phone = findEmail(content), findPhone(content)
			if rep.email != "" || rep.phone != "" {
				rep.lead = true
				rep.name = findName(content)
				acks = append(acks, s.render(orDefault(t.LeadCapture.Reply, DefaultLeadReply), &rep))
			}
		}
		class := classify(sc.norm)
		if t.Appointment.Enabled && asksToBook(class) {
			sc.toks = tokenize(content, sc.toks[:0])
			if rep.when = findAppointment(content, sc.toks); rep.when != "" {
				acks = append(acks, s.render(orDefault(t.Appointment.Reply, DefaultAppointmentReply), &rep))
			}
		}
		if t.EmailHandoff.Enabled && wantsHuman(class) {
			rep.handoff = true
			rep.summary = "Customer asked to talk to a person: " + excerpt(content, 160)
			acks = append(acks, s.render(orDefault(t.EmailHandoff.Reply, DefaultHandoffReply), &rep))
		}
	}

	var answer string
	if rep.entry >= 0 {
		answer = s.agent.Knowledge[rep.entry].Answer
		if o := s.agent.Personality.Openers; len(o) > 0 {
			answer = o[s.pick(turn, content)%uint64(len(o))] + answer
		}
	}
	switch {
	case len(acks) > 0 && answer != "":
		rep.text = strings.Join(acks, " ") + " " + answer
	case len(acks) > 0:
		rep.text = strings.Join(acks, " ")
	case answer != "":
		rep.text = answer
	case isGreeting(sc.norm):
		rep.text = s.greeting
	default:
		rep.text = s.agent.Fallback
	}
	rep.wordsIn = countWords(content)
	rep.wordsOut = countWords(rep.text)
	return rep
}

// pick hashes (seed, turn, content) with FNV-1a and mixes the result.
func (s *Server) pick(turn int, content string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(content); i++ {
		h ^= uint64(content[i])
		h *= 1099511628211
	}
	return splitmix64(h ^ splitmix64(uint64(s.agent.Seed)^uint64(turn)))
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// excerpt returns s trimmed to at most n bytes on a rune boundary, with
// white space collapsed.
func excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// render fills a tool reply template (see Tool.Reply).
func (s *Server) render(tmpl string, rep *reply) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); {
		if tmpl[i] != '{' {
			j := strings.IndexByte(tmpl[i:], '{')
			if j < 0 {
				j = len(tmpl) - i
			}
			b.WriteString(tmpl[i : i+j])
			i += j
			continue
		}
		end := strings.IndexByte(tmpl[i:], '}')
		if end < 0 {
			b.WriteString(tmpl[i:])
			break
		}
		name := tmpl[i+1 : i+end]
		val, known := "", true
		switch name {
		case "name":
			val = rep.name
		case "email":
			val = rep.email
		case "phone":
			val = rep.phone
		case "contact":
			val = rep.email
			if val == "" {
				val = rep.phone
			}
		case "when":
			val = rep.when
		case "queue":
			val = orDefault(s.agent.Tools.EmailHandoff.Queue, DefaultQueue)
		default:
			known = false
		}
		switch {
		case !known:
			b.WriteString(tmpl[i : i+end+1])
		case name == "name" && val == "":
			// Drop the space before a missing name: "Thanks {name}," -> "Thanks,".
			cur := b.String()
			if strings.HasSuffix(cur, " ") {
				b.Reset()
				b.WriteString(cur[:len(cur)-1])
			}
		default:
			b.WriteString(val)
		}
		i += end + 1
	}
	return b.String()
}

// tools returns the tools_executed and handoff_data fields.
func (rep *reply) tools(s *Server) ([]toolWire, *handoffWire) {
	tools := make([]toolWire, 0, 3)
	if rep.lead {
		tools = append(tools, toolWire{Tool: "lead_capture", Status: "executed", Data: toolData{Email: rep.email, Phone: rep.phone, Name: rep.name}})
	}
	if rep.when != "" {
		tools = append(tools, toolWire{Tool: "appointment", Status: "executed", Data: toolData{When: rep.when}})
	}
	queue := orDefault(s.agent.Tools.EmailHandoff.Queue, DefaultQueue)
	if !rep.handoff {
		return tools, nil
	}
	tools = append(tools, toolWire{Tool: "email_handoff", Status: "executed", Data: toolData{Reason: "customer asked to talk to a human", Queue: queue}})
	return tools, &handoffWire{Type: "email", Summary: rep.summary, Queue: queue, Email: rep.email}
}
