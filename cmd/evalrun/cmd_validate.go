package main

import (
	"fmt"

	"github.com/evalrun/evalrun/runner"
	"github.com/evalrun/evalrun/scenarios"
)

func (a *app) validate(args []string) error {
	fs := a.newFlagSet("validate", "validate [paths...]")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return usageErr("no scenario paths given; e.g. evalrun validate examples")
	}
	suite, err := scenarios.Load(paths...)
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	est := runner.EstimateCost(suite, 1, 0)
	fmt.Fprintf(a.stdout, "ok: %d scenarios, %d conversations, %d turns; at most %d agent calls (%d new chats + %d turns) before retries\n",
		len(suite.Scenarios), suite.Conversations(), suite.Turns(), est.Calls, suite.Conversations(), suite.Turns())
	return nil
}
