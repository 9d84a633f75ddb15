package config

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// userModel parses `user_model:`, which takes the keys of judge:.
func (p *parser) userModel(v *yaml.Node) {
	if v.Kind != yaml.MappingNode {
		p.errf(v, "user_model: want a mapping with url, model, api_key_env, limit, got %s", kindName(v))
		return
	}
	u := &Judge{Pos: p.pos(v)}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		switch k.Value {
		case "url":
			u.URL, _ = p.scalar("user_model.url", val)
		case "model":
			u.Model, _ = p.scalar("user_model.model", val)
		case "api_key_env":
			u.APIKeyEnv, _ = p.scalar("user_model.api_key_env", val)
		case "limit":
			u.Limit, _ = p.scalar("user_model.limit", val)
			u.LimitPos = p.pos(val)
		default:
			p.errf(k, "unknown key %q in user_model%s; valid keys: %s", k.Value, suggest(k.Value, judgeKeys), strings.Join(judgeKeys, ", "))
		}
	}
	if u.URL == "" {
		p.errf(v, "user_model: missing url (an OpenAI-compatible base URL)")
	}
	if u.Model == "" {
		p.errf(v, "user_model: missing model")
	}
	p.cfg.UserModel = u
}
