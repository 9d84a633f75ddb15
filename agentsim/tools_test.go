package agentsim

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFindEmail(t *testing.T) {
	cases := map[string]string{
		"reach me at jane.doe+qa@example.co.uk.": "jane.doe+qa@example.co.uk",
		"JANE@EXAMPLE.COM please":                "JANE@EXAMPLE.COM",
		"(bob@x.io)":                             "bob@x.io",
		"first @ then a@b.cd":                    "a@b.cd",
		"no address here":                        "",
		"twitter @brightdesk":                    "",
		"me@localhost":                           "",
		"me@example.c":                           "",
		"@example.com":                           "",
		"a@b..com":                               "",
	}
	for in, want := range cases {
		if got := findEmail(in); got != want {
			t.Errorf("findEmail(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindPhone(t *testing.T) {
	cases := map[string]string{
		"call me at +1 (555) 010-2030 today": "+1 (555) 010-2030",
		"my number is 555-0134.":             "555-0134",
		"+44 20 7946 0958":                   "+44 20 7946 0958",
		"555.010.2030":                       "555.010.2030",
		"on 2025-03-14 at 10:30":             "",
		"we have 120 agents and 30 admins":   "",
		"order 12345":                        "",
		"at 3pm or 4pm":                      "",
		"ticket ABC1234567":                  "",
		"1234567890123456789":                "",
	}
	for in, want := range cases {
		if got := findPhone(in); got != want {
			t.Errorf("findPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindName(t *testing.T) {
	cases := map[string]string{
		"I'm Jane Doe, jane@example.com":       "Jane Doe",
		"Hi, I\u2019m Ana.":                    "Ana",
		"my name is bob and I need help":       "Bob",
		"My name is Mary Ann Smith Jones":      "Mary Ann Smith",
		"I am Li, from Acme":                   "Li",
		"I'm interested in the Growth plan":    "",
		"I'm looking for pricing":              "",
		"Pim is here":                          "",
		"this is Carla from Acme Corp":         "Carla",
		"I'm 42 years old":                     "",
		"Im Jane":                              "",
		"Hi I'm Interested. my name is Jo Lee": "Jo Lee",
	}
	for in, want := range cases {
		if got := findName(in); got != want {
			t.Errorf("findName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindAppointment(t *testing.T) {
	cases := map[string]string{
		"Can I book a demo on Tuesday at 3pm?":                                  "Tuesday at 3pm",
		"Please schedule a call tomorrow at 10:30":                              "tomorrow at 10:30",
		"schedule it for 2025-03-14 15:00":                                      "2025-03-14 15:00",
		"I'd like to book March 14th at 9 a.m. please":                          "March 14th at 9 a.m.",
		"book a meeting 3 pm on 14 March":                                       "3 pm on 14 March",
		"Appointment: 3/14 at noon":                                             "3/14 at noon",
		"Book me for Friday 9:15 AM":                                            "Friday 9:15 AM",
		"Can I book a demo?":                                                    "",            // no day, no time
		"book a demo on Tuesday":                                                "",            // no time
		"book a demo at 3pm":                                                    "",            // no day
		"Are you open on Tuesday at 3pm?":                                       "",            // not asking to book
		"Schedule for tomorrow at 10":                                           "",            // 10 alone is not a time
		"book on Monday, or any other day, ideally 13pm?":                       "",            // 13pm is not a time
		"book Monday; I am free the whole afternoon from 2:00 onwards actually": "Monday 2:00", // far apart
	}
	for in, want := range cases {
		got := ""
		if asksToBook(classify(appendNorm(nil, in))) {
			got = findAppointment(in, tokenize(in, nil))
		}
		if got != want {
			t.Errorf("findAppointment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWantsHuman(t *testing.T) {
	cases := map[string]bool{
		"I want to talk to a human":                true,
		"Can I speak with a real person?":          true,
		"Please connect me to an agent":            true,
		"I need a representative now":              true,
		"Are you a human?":                         false,
		"How many agent seats are in Growth?":      false,
		"I want to know the price":                 false,
		"Please get someone from sales to call me": true,
	}
	for in, want := range cases {
		if got := wantsHuman(classify(appendNorm(nil, in))); got != want {
			t.Errorf("wantsHuman(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestToolsOverHTTP checks each tool's trigger and non-trigger end to end:
// tools_executed, handoff_data and the acknowledging reply text.
func TestToolsOverHTTP(t *testing.T) {
	cases := []struct {
		name, msg string
		tools     string // want tools_executed, compact JSON
		handoff   string // want handoff_data, compact JSON
		reply     []string
	}{
		{"lead with name and email", "I'm Jane Doe, jane@example.com",
			`[{"data":{"email":"jane@example.com","name":"Jane Doe"},"status":"executed","tool":"lead_capture"}]`, `null`,
			[]string{"Thanks Jane Doe, our sales team will contact you at jane@example.com"}},
		{"lead with phone only", "call me on 555-010-2030",
			`[{"data":{"phone":"555-010-2030"},"status":"executed","tool":"lead_capture"}]`, `null`,
			[]string{"Thanks, our sales team will contact you at 555-010-2030"}},
		{"appointment", "Can I book a demo on Tuesday at 3pm?",
			`[{"data":{"when":"Tuesday at 3pm"},"status":"executed","tool":"appointment"}]`, `null`,
			[]string{"booked for Tuesday at 3pm"}},
		{"handoff", "I want to talk to a human",
			`[{"data":{"queue":"sales","reason":"customer asked to talk to a human"},"status":"executed","tool":"email_handoff"}]`,
			`{"queue":"sales","summary":"Customer asked to talk to a person: I want to talk to a human","type":"email"}`,
			[]string{"handing this conversation to our sales team"}},
		{"lead and handoff and knowledge", "I'm Ana (ana@acme.io). What does Growth cost? I need a person to call me.",
			`[{"data":{"email":"ana@acme.io","name":"Ana"},"status":"executed","tool":"lead_capture"},{"data":{"queue":"sales","reason":"customer asked to talk to a human"},"status":"executed","tool":"email_handoff"}]`,
			`{"email":"ana@acme.io","queue":"sales","summary":"Customer asked to talk to a person: I'm Ana (ana@acme.io). What does Growth cost? I need a person to call me.","type":"email"}`,
			[]string{"Thanks Ana, our sales team will contact you at ana@acme.io", "handing this conversation", "$99/mo"}},
		{"no tool", "What does the Growth plan cost?", `[]`, `null`, []string{"$99/mo"}},
		{"no tool: question about a human", "Are you a human?", `[]`, `null`, []string{"I'm not sure"}},
	}
	f := serve(t, baseline(t))
	chat := f.newChat("c")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := f.send(chat, c.msg)
			tools, _ := json.Marshal(r["tools_executed"])
			if string(tools) != c.tools {
				t.Errorf("tools_executed = %s\nwant             %s", tools, c.tools)
			}
			h, _ := json.Marshal(r["handoff_data"])
			if string(h) != c.handoff {
				t.Errorf("handoff_data = %s\nwant           %s", h, c.handoff)
			}
			for _, w := range c.reply {
				if !strings.Contains(r["response"].(string), w) {
					t.Errorf("response %q lacks %q", r["response"], w)
				}
			}
		})
	}
}

func TestToolsOffAndV1(t *testing.T) {
	a := baseline(t)
	a.Tools.LeadCapture.Enabled = false
	f := serve(t, a)
	chat := f.newChat("c")
	r := f.send(chat, "I'm Jane, jane@example.com, book me Tuesday at 3pm")
	tools, _ := json.Marshal(r["tools_executed"])
	if string(tools) != `[{"data":{"when":"Tuesday at 3pm"},"status":"executed","tool":"appointment"}]` {
		t.Errorf("with lead_capture off: tools_executed = %s", tools)
	}
	// v1 runs no tools: the reply comes from the knowledge base only.
	v1 := f.do("POST", "/external/agent", bearer, `{"chat_id":"`+chat+`","content":"I want to talk to a human"}`)
	if m := v1.json(t); strings.Contains(m["response"].(string), "handing") {
		t.Errorf("v1 ran the handoff tool: %v", m)
	}
}

func TestRenderTemplate(t *testing.T) {
	s := New(&Agent{Name: "t", Tools: Tools{EmailHandoff: Tool{Queue: "support"}}})
	rep := &reply{email: "a@b.co", phone: "555-0101", when: "Mon 3pm"}
	cases := map[string]string{
		"Thanks {name}, at {contact}.":    "Thanks, at a@b.co.",
		"{email}|{phone}|{when}|{queue}":  "a@b.co|555-0101|Mon 3pm|support",
		"keep {unknown} and {unclosed":    "keep {unknown} and {unclosed",
		"{name}":                          "",
		"Thanks {name} - {name}!":         "Thanks -!",
		"no placeholders at all":          "no placeholders at all",
		"émoji ✓ {contact}":               "émoji ✓ a@b.co",
		"{contact} for phone-only leads?": "a@b.co for phone-only leads?",
	}
	for tmpl, want := range cases {
		if got := s.render(tmpl, rep); got != want {
			t.Errorf("render(%q) = %q, want %q", tmpl, got, want)
		}
	}
	rep.name = "Jo"
	if got := s.render("Thanks {name}, at {contact}.", rep); got != "Thanks Jo, at a@b.co." {
		t.Errorf("with name: %q", got)
	}
}

// FuzzTurn: any message gets a 200 whose body is valid JSON with the
// documented fields, and the scanners never panic.
func FuzzTurn(f *testing.F) {
	for _, s := range []string{"hi", "I'm Jane Doe, jane@example.com", "call +1 (555) 010-2030", "book Tuesday at 3pm",
		"book 2025-03-14 10:30 a.m.", "I want a human", "\x00\xff\"\\\n", "what does growth cost?", "My name is ", "@@.@", "3/14 noon schedule"} {
		f.Add(s)
	}
	a := baseline(f)
	s := New(a)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/external/message/new-chat", strings.NewReader(`{"client_id":"c"}`))
	req.Header.Set("Authorization", bearer)
	s.ServeHTTP(rec, req)
	var chat struct {
		ID string `json:"chat_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &chat); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, content string) {
		body, _ := json.Marshal(map[string]string{"chat_id": chat.ID, "content": content})
		req := httptest.NewRequest("POST", "/external/agent/v2", bytes.NewReader(body))
		req.Header.Set("Authorization", bearer)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if strings.TrimSpace(content) == "" {
			if w.Code != 422 {
				t.Fatalf("empty content: %d", w.Code)
			}
			return
		}
		var m map[string]any
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &m) != nil {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
		if r, _ := m["response"].(string); r == "" {
			t.Fatalf("empty response: %s", w.Body)
		}
		if _, ok := m["tools_executed"].([]any); !ok {
			t.Fatalf("tools_executed missing: %s", w.Body)
		}
	})
}
