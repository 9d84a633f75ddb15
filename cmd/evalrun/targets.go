package main

import (
	"flag"
	"io"
	"os"
	"strings"
	"time"

	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/report"
)

// targetFlags are the transport flags of "evalrun run" (see docs/targets.md).
type targetFlags struct {
	caCert       string
	debug        string
	auth         string
	apiVersion   int
	model        string
	systemPrompt string
	stream       bool
	noHealth     bool
}

func (t *targetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.caCert, "ca-cert", "", "PEM `FILE` of CA certificates trusted for https besides the system roots")
	fs.StringVar(&t.debug, "debug", "", "write every request and response (keys redacted) to `FILE` (- for stderr)")
	fs.StringVar(&t.auth, "auth", "", "how the key is sent: bearer (default), header (X-API-Key) or query (?api_key=)")
	fs.IntVar(&t.apiVersion, "api-version", 0, "Optimly message endpoint: 2 (default, /external/agent/v2) or 1 (legacy /external/agent)")
	fs.StringVar(&t.model, "model", "", "model name for --kind openai (default with the simulated agent: sim)")
	fs.StringVar(&t.systemPrompt, "system-prompt", "", "system prompt of every conversation for --kind openai")
	fs.BoolVar(&t.noHealth, "no-health-check", false, "skip the start-up health check (GET /v1/models for --kind openai, GET /health otherwise), e.g. for a server without that endpoint")
	fs.BoolVar(&t.stream, "stream", false, "--kind openai: stream replies (server-sent events) and record time to first token and stalls")
}

// targetSpec is one target to connect to, from the flags or a `targets:`
// entry of evalrun.yaml. Kind selects the transport; OpenAI and HTTP carry
// the kind's own settings.
type targetSpec struct {
	Kind              string // optimly (default), openai or http
	URL               string
	APIKey            string
	Auth              string // bearer, header, query
	Header            string // with Auth header: the header name (default X-API-Key)
	QueryParam        string // with Auth query: the parameter (default api_key)
	APIVersion        int    // optimly only
	CACertFile        string
	AllowInsecureHTTP bool
	Timeout           time.Duration
	MaxConns          int
	// DebugFile is where requests are dumped: "" none, "-" Stderr.
	DebugFile string
	Stderr    io.Writer
	OpenAI    *agent.OpenAIConfig
	HTTP      *agent.HTTPConfig
}

// buildConn builds the transport of t. The returned close function releases
// the connections and the debug file. Errors are usage errors, with the key
// redacted.
func buildConn(t targetSpec) (agent.Conn, func(), error) {
	opts := agent.Options{
		BaseURL:           t.URL,
		APIKey:            t.APIKey,
		Auth:              t.Auth,
		Header:            t.Header,
		QueryParam:        t.QueryParam,
		APIVersion:        t.APIVersion,
		CACertFile:        t.CACertFile,
		AllowInsecureHTTP: t.AllowInsecureHTTP,
		Timeout:           t.Timeout,
		MaxConns:          t.MaxConns,
		UserAgent:         "evalrun/" + version,
	}
	closeDebug := func() {}
	switch t.DebugFile {
	case "":
	case "-":
		opts.Debug = t.Stderr
	default:
		f, err := os.Create(t.DebugFile)
		if err != nil {
			return nil, nil, usageErr("--debug: %v", err)
		}
		opts.Debug = f
		closeDebug = func() { _ = f.Close() }
	}
	var cfg any
	switch strings.ToLower(t.Kind) {
	case agent.TargetOpenAI:
		if t.OpenAI == nil {
			closeDebug()
			return nil, nil, usageErr("--kind openai: a model is needed: pass --model NAME or set it in evalrun.yaml")
		}
		cfg = t.OpenAI
	case agent.TargetHTTP:
		if t.HTTP == nil {
			closeDebug()
			return nil, nil, usageErr("--kind http: the request templates come from a targets: entry of evalrun.yaml (see docs/targets.md)")
		}
		cfg = t.HTTP
	}
	conn, err := agent.New(t.Kind, opts, cfg)
	if err != nil {
		closeDebug()
		return nil, nil, usageErr("target %s: %v", agent.RedactURL(t.URL), agent.Redact(err.Error(), t.APIKey))
	}
	return conn, func() {
		if c, ok := conn.(agent.Closer); ok {
			c.Close()
		}
		closeDebug()
	}, nil
}

// openAITarget is what the result records of an OpenAI-compatible target:
// the model, stream flag, system prompt, request fields and extra header
// names, as the transport sends them. Nil for other kinds.
func openAITarget(spec targetSpec, conn agent.Conn) *report.OpenAITarget {
	o, ok := conn.(*agent.OpenAI)
	if !ok || spec.OpenAI == nil {
		return nil
	}
	return &report.OpenAITarget{Model: spec.OpenAI.Model, Stream: spec.OpenAI.Stream, SystemPrompt: spec.OpenAI.SystemPrompt,
		Options: o.RequestFields(), Headers: o.HeaderNames()}
}

// keyWhat names the key a target was sent, for an error: the variable
// that held it, or no key at all (keyless).
func keyWhat(keyEnv string) string {
	if keyEnv == "" {
		return `a request without a key (the target was set keyless: --api-key-env "" or auth: none)`
	}
	return "the API key in " + keyEnv
}

// healthHint is what a failed start-up health check adds to its error:
// how to point it elsewhere or skip it.
func healthHint(kind string) string {
	if kind == agent.TargetOpenAI {
		return ` (the check GETs openai.health_path, default /v1/models: set another path in evalrun.yaml, health_path: "" to skip it there, or skip it with --no-health-check)`
	}
	return " (skip the start-up check with --no-health-check)"
}

// checkKind validates --kind.
func checkKind(kind string) error {
	for _, k := range agent.TargetKinds {
		if kind == k {
			return nil
		}
	}
	return usageErr("--kind %q: valid kinds are %s", kind, strings.Join(agent.TargetKinds, ", "))
}

// specFromFlags is the target of "evalrun run"'s flags.
func specFromFlags(f *runFlags, url, key string, simulated bool, stderr io.Writer) targetSpec {
	t := targetSpec{
		Kind:              f.kind,
		URL:               url,
		APIKey:            key,
		Auth:              f.tx.auth,
		APIVersion:        f.tx.apiVersion,
		CACertFile:        f.tx.caCert,
		AllowInsecureHTTP: f.allowHTTP,
		Timeout:           f.timeout,
		// One connection per conversation in flight: each has at most one
		// call in flight, so the server sees no more connections than that.
		MaxConns:  max(f.concurrency, f.load.conns(), 1),
		DebugFile: f.tx.debug,
		Stderr:    stderr,
	}
	if f.kind == agent.TargetOpenAI {
		model := f.tx.model
		if model == "" && simulated {
			model = "sim"
		}
		if model != "" {
			t.OpenAI = &agent.OpenAIConfig{Model: model, SystemPrompt: f.tx.systemPrompt, Stream: f.tx.stream}
		}
	}
	return t
}
