package main

import (
	"github.com/evalrun/evalrun/agent"
	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/scenarios"
)

// openJudge connects the LLM judge of evalrun.yaml when the suite has judge
// expectations; nil when it has none. Its key comes from the environment
// variable the file names, never from the file.
func (a *app) openJudge(cfg *config.File, suite *scenarios.Suite) (*agent.Judge, error) {
	if suite.JudgeCalls() == 0 || cfg == nil || cfg.Judge == nil {
		return nil, nil // LoadWith already refused judge expectations without a judge
	}
	j := cfg.Judge
	var key string
	if j.APIKeyEnv != "" {
		key = a.secret(j.APIKeyEnv)
		if key == "" {
			return nil, usageErr("%s: judge.api_key_env: environment variable %s is empty", j.Pos, j.APIKeyEnv)
		}
	}
	judge, err := agent.NewJudge(agent.JudgeOptions{
		Options: agent.Options{BaseURL: j.URL, APIKey: key, UserAgent: "evalrun/" + version},
		Model:   j.Model,
	})
	if err != nil {
		return nil, usageErr("%s: judge: %v", j.Pos, agent.Redact(err.Error(), key))
	}
	return judge, nil
}
