package main

import (
	"encoding/json"

	"github.com/evalrun/evalrun/scenarios"
)

// schema prints the JSON Schema of scenario files, for editors:
//
//	evalrun schema > scenario.schema.json
//
// and, at the top of a scenario file:
//
//	# yaml-language-server: $schema=./scenario.schema.json
func (a *app) schema(args []string) error {
	fs := a.newFlagSet("schema", "schema")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) > 0 {
		return usageErr("schema takes no arguments; it prints the JSON Schema of scenario files")
	}
	data, err := json.MarshalIndent(scenarios.Schema(), "", "  ")
	if err != nil {
		return err
	}
	_, err = a.stdout.Write(append(data, '\n'))
	return err
}
