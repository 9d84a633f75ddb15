package main

import (
	"encoding/json"
	"flag"
	"time"

	"github.com/evalrun/evalrun/config"
	"github.com/evalrun/evalrun/scenarios"
)

// schema prints a JSON Schema (draft 2020-12), for editors: of scenario
// files by default, of evalrun.yaml with `schema config` (or --config):
//
//	evalrun schema > scenario.schema.json
//	evalrun schema config > evalrun.schema.json
//
// and, at the top of a scenario file (or of evalrun.yaml):
//
//	# yaml-language-server: $schema=./scenario.schema.json
func (a *app) schema(args []string) error {
	fs := a.newFlagSet("schema", "schema [scenario|config]")
	cfg := fs.Bool("config", false, "print the schema of evalrun.yaml (same as `evalrun schema config`)")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	which := "scenario"
	if *cfg {
		which = "config"
	}
	switch {
	case len(paths) == 1 && (paths[0] == "scenario" || paths[0] == "config") && !*cfg:
		which = paths[0]
	case len(paths) > 0:
		return usageErr("schema takes one optional argument, scenario (the default) or config; got %q", paths)
	}
	s := scenarios.Schema()
	if which == "config" {
		s = configSchema()
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(append(data, '\n'))
	return err
}

// configSchema is the JSON Schema of evalrun.yaml: the settings are the
// flags of `evalrun run` (runFlagSet), `defaults:` is the scenario
// package's, so the schema follows both as they change.
func configSchema() map[string]any {
	return config.Schema(config.SchemaParts{
		Settings: settingSpecs(runFlagSet()),
		Defaults: scenarios.DefaultsSchema(),
		Defs:     scenarios.SchemaDefs(),
	})
}

// runFlagSet returns the flag set of `evalrun run`, defined but not parsed.
func runFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f runFlags
	f.register(fs)
	return fs
}

// settingSpecs describes every flag of fs as an evalrun.yaml setting, its
// type inferred from the flag's kind: the standard flags say it through
// flag.Getter; other values are strings (repeatable when they say so, as
// --limit and --threshold), or booleans when they are bool flags.
func settingSpecs(fs *flag.FlagSet) []config.SettingSpec {
	var out []config.SettingSpec
	fs.VisitAll(func(fl *flag.Flag) {
		_, usage := flag.UnquoteUsage(fl)
		s := config.SettingSpec{Name: fl.Name, Doc: usage, Type: config.SettingString}
		if fl.DefValue != "" && fl.DefValue != "0" && fl.DefValue != "false" && fl.DefValue != "0s" {
			s.Default = fl.DefValue
		}
		if g, ok := fl.Value.(flag.Getter); ok {
			switch g.Get().(type) {
			case bool:
				s.Type = config.SettingBool
			case int, int64, uint, uint64:
				s.Type = config.SettingInt
			case float64:
				s.Type = config.SettingFloat
			case time.Duration:
				s.Type = config.SettingDuration
			}
		} else if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			s.Type = config.SettingBool
		}
		if r, ok := fl.Value.(repeatable); ok && r.Repeatable() {
			s.Repeatable = true
		}
		out = append(out, s)
	})
	return out
}
