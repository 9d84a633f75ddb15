package scenarios

import (
	"encoding/hex"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// builtin is a template name that evalrun defines.
type builtin struct {
	doc string
	// args parses the text after the name ({{ date +2d }}); nil means the
	// built-in takes no arguments.
	args func(args string) (any, error)
	// render returns the value for env and the parsed arguments; false
	// means there is none (an unset environment variable).
	render func(env *Env, arg any) (string, bool)
}

// plain wraps a built-in without arguments.
func plain(f func(*Env) string) func(*Env, any) (string, bool) {
	return func(e *Env, _ any) (string, bool) { return f(e), true }
}

// builtins are the template names every scenario can use. Vars and captures
// may not reuse them.
var builtins = map[string]builtin{
	"uuid":         {doc: "a random UUID (v4 format), new at each use, reproducible for the run id, seed and conversation", render: plain((*Env).uuid)},
	"iteration":    {doc: "0-based index of the conversation among its scenario's repeats", render: plain(func(e *Env) string { return strconv.Itoa(e.Iteration) })},
	"run_id":       {doc: "the run's id", render: plain(func(e *Env) string { return e.RunID })},
	"scenario":     {doc: "the scenario's name (with its matrix row key, e.g. pricing[gold])", render: plain(func(e *Env) string { return e.Scenario })},
	"fake.name":    {doc: "a made-up person's full name, the same within one conversation", render: plain(func(e *Env) string { return e.person().name() })},
	"fake.email":   {doc: "that person's e-mail address (at an example.* domain)", render: plain(func(e *Env) string { return e.person().email() })},
	"fake.phone":   {doc: "that person's phone number (a fictional 555-01xx number)", render: plain(func(e *Env) string { return e.person().phone() })},
	"fake.company": {doc: "that person's company", render: plain(func(e *Env) string { return e.person().company() })},
	"date":         {doc: "the run's start date, optionally moved and formatted: {{ date +2d }}, {{ date -1w }}, {{ date +3h \"2006-01-02 15:04\" }}, {{ date +1d weekday }}", args: parseDateArgs, render: renderDate},
	"env":          {doc: "an environment variable listed in env_allow of evalrun.yaml: {{ env NAME }}; names like *KEY*, *TOKEN*, *SECRET*, *PASSWORD* are refused", args: parseEnvArgs, render: renderEnv},
}

// isBuiltin reports whether name is a built-in template name.
func isBuiltin(name string) bool {
	_, ok := builtins[name]
	return ok
}

// Builtins returns the names of the built-in template values, sorted.
func Builtins() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// BuiltinDoc returns a one-line description of a built-in template name,
// or "" for a name that is not built in.
func BuiltinDoc(name string) string { return builtins[name].doc }

// uuid returns the next UUID of env's reproducible sequence.
func (env *Env) uuid() string {
	h := fnv.New64a()
	h.Write([]byte(env.RunID))
	r := rand.New(rand.NewPCG(uint64(env.Seed)^h.Sum64(), uint64(env.Conversation)<<20^env.uuids))
	env.uuids++
	var b [16]byte
	for i := 0; i < 16; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// fakePerson is the made-up visitor of one conversation: every fake.* value
// comes from it, so "I'm {{ fake.name }}, {{ fake.email }}" is coherent.
type fakePerson struct {
	first, last   string
	num           int // disambiguates e-mail addresses
	domain        string
	area, line    int
	adj, noun, sf string
}

// person derives the conversation's fake person from (Seed, Conversation).
func (env *Env) person() fakePerson {
	r := rand.New(rand.NewPCG(uint64(env.Seed), 0x6576616c72756e^uint64(env.Conversation)))
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	return fakePerson{
		first:  pick(firstNames),
		last:   pick(lastNames),
		num:    r.IntN(100),
		domain: pick([]string{"example.com", "example.org", "example.net"}),
		area:   []int{202, 212, 305, 312, 415, 512, 617, 702, 808, 919}[r.IntN(10)],
		line:   r.IntN(100),
		adj:    pick(companyWords),
		noun:   pick(companyNouns),
		sf:     pick([]string{"Inc.", "LLC", "Ltd", "GmbH", "Co."}),
	}
}

func (p fakePerson) name() string { return p.first + " " + p.last }

func (p fakePerson) email() string {
	local := strings.ToLower(p.first + "." + strings.ReplaceAll(p.last, "'", ""))
	return local + strconv.Itoa(p.num) + "@" + p.domain
}

func (p fakePerson) phone() string {
	return "+1 " + strconv.Itoa(p.area) + "-555-01" + pad2(p.line)
}

func (p fakePerson) company() string { return p.adj + " " + p.noun + " " + p.sf }

func pad2(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

var firstNames = []string{
	"Ada", "Alan", "Amara", "Ana", "Arjun", "Bea", "Carlos", "Chen", "Chloe", "Dara",
	"David", "Elena", "Emeka", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan",
	"Jamal", "Julia", "Kenji", "Lara", "Leon", "Lina", "Mateo", "Maya", "Mina", "Nadia",
	"Noah", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Sofia", "Tariq", "Uma", "Vera",
	"Wei", "Yara", "Yusuf", "Zoe",
}

var lastNames = []string{
	"Abbott", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Haddad", "Ibrahim", "Jensen",
	"Kim", "Kowalski", "Larsen", "Lopez", "Moreau", "Nakamura", "Novak", "O'Brien", "Okafor", "Patel",
	"Quinn", "Rossi", "Sato", "Schmidt", "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Yilmaz",
	"Zhang", "Mendes", "Khan", "Ivanova", "Horvat", "Nguyen", "Mensah", "Andersen", "Bianchi", "Cohen",
}

var companyWords = []string{
	"Blue", "Bright", "Cedar", "Copper", "Granite", "Harbor", "Lumen", "Maple", "North", "Orbit",
	"Pine", "Quartz", "River", "Silver", "Summit", "Tidal", "Vertex", "Willow",
}

var companyNouns = []string{
	"Analytics", "Bakery", "Clinic", "Consulting", "Dental", "Design", "Foods", "Freight", "Labs", "Logistics",
	"Media", "Outfitters", "Partners", "Realty", "Robotics", "Software", "Studio", "Travel",
}
