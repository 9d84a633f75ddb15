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

// gcPercent is the garbage collector's target (GOGC) of a run with at most
// gcInFlight conversations in flight, when the environment sets none. Such a
// run allocates a little per call and keeps little, so with Go's default of
// 100 the collector runs every few thousand calls; 200 halves that for a
// few MB more heap (docs/decisions.md: 8% less CPU per call in
// bench/peers.sh). With more in flight the heap grows with the
// conversations and their connections, and doubling it costs more than it
// saves (10,000 in flight: 358 MB instead of 266 MB), so the default stays.
const (
	gcPercent  = 200
	gcInFlight = 1000
)

// tuneGC sets gcPercent for a run of at most gcInFlight conversations in
// flight, unless GOGC is set (the user's choice wins).
func tuneGC(getenv func(string) string, inFlight int) {
	if getenv("GOGC") == "" && inFlight <= gcInFlight {
		debug.SetGCPercent(gcPercent)
	}
}
