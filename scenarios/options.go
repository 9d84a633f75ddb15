package scenarios

import (
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"
)

// LoadOptions are the suite-wide settings a load applies, usually taken
// from evalrun.yaml. The zero value is the strictest: no judge, no
// environment variables, no defaults.
type LoadOptions struct {
	// JudgeConfigured says a judge will grade `judge:` expectations. When
	// false, a `judge:` expectation is a load-time error (so a run never
	// starts that could not grade its own checks).
	JudgeConfigured bool
	// EnvAllow lists the environment variables {{ env NAME }} may read
	// (evalrun.yaml's env_allow). Names that look like credentials
	// (*KEY*, *TOKEN*, *SECRET*, *PASSWORD*) are refused even if listed.
	EnvAllow []string
	// LookupEnv reads environment variables, at load time to check that
	// each one used is set; nil means os.LookupEnv. The runner renders with
	// Env.LookupEnv. A large suite is parsed on several goroutines, which
	// may call it at the same time.
	LookupEnv func(name string) (string, bool)
	// Defaults apply to every scenario (see Defaults).
	Defaults Defaults
}

// Defaults are settings every scenario of a suite shares (evalrun.yaml's
// `defaults:`; see ParseDefaults).
type Defaults struct {
	// Tags are added to every scenario's tags.
	Tags []string
	// Vars are defined in every scenario; a scenario's own vars and its
	// matrix rows override them.
	Vars map[string]string
	// Expect is appended to every turn's expectations, e.g. a max_latency.
	Expect []*Expectation
	// OnFail is the on_fail of scenarios that do not set it; "" means stop.
	OnFail OnFail
	// Think is the think time of turns that do not set one.
	Think time.Duration
	// HasThink says Think was given (so that think: 0s can be a default).
	HasThink bool
}

// defaultsKeys are the keys of evalrun.yaml's `defaults:`.
var defaultsKeys = []string{"tags", "vars", "expect", "on_fail", "think"}

// ParseDefaults decodes the `defaults:` node of a configuration file
// (file names it in errors):
//
//	defaults:
//	  tags: [nightly]
//	  vars: {company: Acme}
//	  expect:
//	    - max_latency: 5s
//	  on_fail: continue
//	  think: 1s
//
// The error, if any, is an ErrorList with file:line:col of each problem.
// A nil node gives zero Defaults.
func ParseDefaults(file string, node *yaml.Node) (Defaults, error) {
	var out Defaults
	if node == nil {
		return out, nil
	}
	d := &decoder{file: file}
	if node.Kind == yaml.DocumentNode && len(node.Content) > 0 {
		node = node.Content[0]
	}
	node = d.resolve(node)
	if node.Kind == yaml.ScalarNode && node.ShortTag() == "!!null" {
		return out, nil
	}
	fs, ok := d.fields(node, "defaults", defaultsKeys)
	if ok {
		for _, f := range fs {
			v := f.val
			switch f.name {
			case "tags":
				if l, ok := d.strList(v, "defaults.tags", false); ok {
					out.Tags = l
				}
			case "vars":
				out.Vars = map[string]string{}
				d.varsInto(v, "defaults.vars", out.Vars)
			case "expect":
				out.Expect = d.expectations(v, "defaults.expect")
			case "on_fail":
				if s, ok := d.text(v, "defaults.on_fail"); ok {
					switch OnFail(s) {
					case OnFailStop, OnFailContinue:
						out.OnFail = OnFail(s)
					default:
						d.errorf(v, "defaults.on_fail: expected stop or continue, got %s", excerpt(s, 40))
					}
				}
			case "think":
				if dur, ok := d.duration(v, "defaults.think"); ok {
					out.Think, out.HasThink = dur, true
				}
			}
		}
	}
	if err := d.errs.Err(); err != nil {
		return Defaults{}, err
	}
	return out, nil
}

func (o *LoadOptions) lookupEnv(name string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

// envAllowed reports whether {{ env name }} may be used.
func (o *LoadOptions) envAllowed(name string) bool { return slices.Contains(o.EnvAllow, name) }

// applyDefaults merges the defaults into a decoded scenario: tags added
// (each once), on_fail and think where the scenario did not set them,
// expectations appended to every turn. Vars are merged before decoding.
func (o *LoadOptions) applyDefaults(sc *Scenario, setOnFail bool) {
	df := o.Defaults
	for _, t := range df.Tags {
		if !slices.Contains(sc.Tags, t) {
			sc.Tags = append(sc.Tags, t)
		}
	}
	if !setOnFail && df.OnFail != "" {
		sc.OnFail = df.OnFail
	}
	turns := sc.Turns
	if sc.Simulate != nil {
		turns = append(slices.Clip(turns), sc.Simulate.Turn)
	}
	for _, t := range turns {
		if df.HasThink && !t.hasThink {
			t.Think = df.Think
		}
		if len(df.Expect) > 0 {
			t.Expect = append(slices.Clip(t.Expect), df.Expect...)
		}
	}
}
