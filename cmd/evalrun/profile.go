package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
)

// startProfiles starts the profiles that the environment asks for, for
// measuring the CLI as users run it (bench/peers.sh, docs/performance.md):
// EVALRUN_CPUPROFILE=FILE writes a CPU profile of the whole command,
// EVALRUN_MEMPROFILE=FILE a heap profile (allocations since the start, all
// of them sampled at the runtime's default rate) when it ends. They are not
// flags, so that they stay out of the help of every command. The returned
// function stops them and writes the files; errors go to stderr and never
// change the command's exit code.
func startProfiles(getenv func(string) string, stderr io.Writer) (stop func()) {
	cpu, mem := getenv("EVALRUN_CPUPROFILE"), getenv("EVALRUN_MEMPROFILE")
	var cpuFile *os.File
	if cpu != "" {
		f, err := os.Create(cpu)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "evalrun: EVALRUN_CPUPROFILE=%s: %v\n", cpu, err)
		} else {
			cpuFile = f
		}
	}
	return func() {
		if cpuFile != nil {
			pprof.StopCPUProfile()
			if err := cpuFile.Close(); err != nil {
				fmt.Fprintf(stderr, "evalrun: EVALRUN_CPUPROFILE=%s: %v\n", cpu, err)
			}
		}
		if mem != "" {
			runtime.GC()
			f, err := os.Create(mem)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				fmt.Fprintf(stderr, "evalrun: EVALRUN_MEMPROFILE=%s: %v\n", mem, err)
			}
		}
	}
}

// gcPercent is the garbage collector's target (GOGC) of the CLI when the
// environment sets none: a load run allocates a little per call and keeps
// little, so with Go's default of 100 the collector runs every few
// thousand calls; 200 halves that for a few MB more heap
// (docs/decisions.md: 8% less CPU per call in bench/peers.sh).
const gcPercent = 200

// tuneGC sets gcPercent unless GOGC is set (the user's choice wins).
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
