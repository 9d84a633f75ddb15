package main

import (
	"flag"

	"github.com/evalrun/evalrun/report"
)

// freeze prints the transcript of one conversation of a result as a
// scripted scenario file, for regression:
//
//	evalrun freeze RESULT.json --conversation 7 > frozen.yaml
func (a *app) freeze(args []string) error {
	fs := a.newFlagSet("freeze", "freeze RESULT.json --conversation ID [--target NAME]")
	id := fs.Int("conversation", 0, "the `ID` of the conversation to freeze (its run-wide number, as in the result)")
	target := fs.String("target", "", "the target `NAME` whose conversation to freeze, in a result of several targets")
	paths, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 1 {
		return usageErr("freeze takes one result file: evalrun freeze RESULT.json --conversation ID > scenario.yaml")
	}
	if !flagSet(fs, "conversation") || *id < 1 {
		return usageErr("--conversation: give the ID (1 or more) of the conversation to freeze, as in the result's conversations[].id")
	}
	run, err := readRunArg(paths[0])
	if err != nil {
		return err
	}
	res := run.Targets[0]
	if !run.Single() {
		res = nil
		var names []string
		for _, t := range run.Targets {
			names = append(names, t.Target.Name)
			if t.Target.Name == *target {
				res = t
			}
		}
		if res == nil {
			return usageErr("--target: %s holds several targets; name one of %q", paths[0], names)
		}
	}
	data, err := report.Freeze(res, paths[0], *id)
	if err != nil {
		return usageErr("%v", err)
	}
	_, err = a.stdout.Write(data)
	return err
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
