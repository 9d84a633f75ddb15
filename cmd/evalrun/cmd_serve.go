package main

import (
	"fmt"

	"github.com/evalrun/evalrun/agentsim"
)

func (a *app) serve(args []string) error {
	fs := a.newFlagSet("serve", "serve [--addr 127.0.0.1:8787] [--agent FILE]")
	addr := fs.String("addr", "127.0.0.1:8787", "listen `address`; loopback only unless --allow-non-loopback")
	agentFile := fs.String("agent", "", "agent `FILE` (default: the built-in baseline agent)")
	keyEnv := fs.String("api-key-env", "", "accept the key in this environment variable instead of the agent file's api_keys")
	nonLoopback := fs.Bool("allow-non-loopback", false, "allow listening on a non-loopback address")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErr("serve takes no arguments, got %q", rest)
	}
	ag, err := a.loadSimAgent(*agentFile)
	if err != nil {
		return err
	}
	if *keyEnv != "" {
		k := a.secret(*keyEnv)
		if k == "" {
			return usageErr("--api-key-env %s: the variable is empty", *keyEnv)
		}
		ag.APIKeys = []string{k}
	}
	srv, err := agentsim.StartWith(ag, *addr, *nonLoopback)
	if err != nil {
		return usageErr("--addr %s: %v", *addr, err)
	}
	defer srv.Close()
	fmt.Fprintf(a.stderr, "evalrun: simulated agent %q serving the Optimly API at %s (%d API key(s) accepted); Ctrl-C stops\n", ag.Name, srv.URL, len(ag.APIKeys))
	<-a.stop.Done()
	return nil
}
