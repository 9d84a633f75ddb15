package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/evalrun/evalrun/report"
)

// reportFlags are the outputs of a run (and of "evalrun report").
type reportFlags struct {
	out   string // JSON result file
	junit string
	md    string
	html  string
	hgrm  string // directory
	// junitCases is --junit-cases: scenario (default) or conversation.
	junitCases string

	// Transcripts (run only).
	transcripts     string
	transcriptsFile string
	sample          int
	tfile           *os.File // open while the run streams to it
}

// register adds the report flags every command that renders a result
// takes.
func (r *reportFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.out, "out", "", "write the JSON result to `FILE`")
	fs.StringVar(&r.junit, "junit", "", "write a JUnit XML report to `FILE` (one testcase per scenario and target, failed when evalrun fails the scenario)")
	fs.StringVar(&r.junitCases, "junit-cases", report.JUnitScenarioCases, "JUnit testcases: scenario (one per scenario and target) or conversation (one per kept conversation)")
	fs.StringVar(&r.md, "md", "", "write a Markdown summary to `FILE` (e.g. $GITHUB_STEP_SUMMARY)")
	fs.StringVar(&r.html, "html", "", "write a self-contained HTML report to `FILE`")
	fs.StringVar(&r.hgrm, "hgrm", "", "write each latency histogram as HdrHistogram .hgrm text into `DIR`")
}

// registerRun adds the report flags and the transcript flags of "evalrun
// run".
func (r *reportFlags) registerRun(fs *flag.FlagSet) {
	r.register(fs)
	fs.StringVar(&r.transcripts, "transcripts", "sample",
		"transcripts the result keeps: failed, sample (failed + the first --transcripts-sample iterations), all (as sample, and every conversation streamed to --transcripts-file), none")
	fs.StringVar(&r.transcriptsFile, "transcripts-file", "", "JSON Lines `FILE` for --transcripts all (default: the --out file with .transcripts.jsonl)")
	fs.IntVar(&r.sample, "transcripts-sample", report.DefaultTranscriptSample, "iterations per scenario whose passed conversations the sample keeps")
}

// transcriptsPath is where --transcripts all streams: --transcripts-file,
// or next to --out (RESULT.transcripts.jsonl, a .json extension dropped).
func (r *reportFlags) transcriptsPath() string {
	if r.transcriptsFile != "" {
		return r.transcriptsFile
	}
	if r.out == "" {
		return ""
	}
	return strings.TrimSuffix(r.out, ".json") + ".transcripts.jsonl"
}

// checkTranscripts validates the transcript flags before the run starts.
func (r *reportFlags) checkTranscripts() error {
	p, err := report.ParseTranscriptPolicy(r.transcripts)
	if err != nil {
		return usageErr("--transcripts: %v", err)
	}
	if r.sample < 0 {
		return usageErr("--transcripts-sample %d: must not be negative", r.sample)
	}
	if p == report.TranscriptsAll && r.transcriptsPath() == "" {
		return usageErr("--transcripts all streams every conversation to a file: give --out or --transcripts-file")
	}
	if p != report.TranscriptsAll && r.transcriptsFile != "" {
		return usageErr("--transcripts-file is used only with --transcripts all")
	}
	return nil
}

// openTranscripts returns the aggregator's transcript settings and, for
// --transcripts all, opens the stream file; closeTranscripts closes it.
func (r *reportFlags) openTranscripts() (report.Transcripts, error) {
	if err := r.checkTranscripts(); err != nil {
		return report.Transcripts{}, err
	}
	p, _ := report.ParseTranscriptPolicy(r.transcripts)
	tr := report.Transcripts{Policy: p, Sample: r.sample}
	if r.sample == 0 {
		tr.Sample = -1 // the flag's 0 means none; the library's 0 means the default
	}
	if p == report.TranscriptsAll {
		path := r.transcriptsPath()
		f, err := os.Create(path)
		if err != nil {
			return tr, unfinishedErr("--transcripts all: %v", err)
		}
		r.tfile = f
		tr.Stream, tr.StreamName = f, path
	}
	return tr, nil
}

// closeTranscripts closes the stream file, if open; call it after the
// aggregator's Result (which flushes the stream). It is safe to call more
// than once.
func (r *reportFlags) closeTranscripts() error {
	if r.tfile == nil {
		return nil
	}
	err := r.tfile.Close()
	r.tfile = nil
	return err
}

// checkJUnit validates --junit-cases before anything runs.
func (r *reportFlags) checkJUnit() error {
	c, err := report.ParseJUnitCases(r.junitCases)
	if err != nil {
		return usageErr("--junit-cases %v", err)
	}
	r.junitCases = c
	return nil
}

// checkOutputs checks, before the first agent call, that every file and
// directory the run will write can be written, so that no result is lost to
// a bad path after the calls were sent and charged. A file's directory must
// exist and take a new file (a temporary one is created and removed); an
// existing file must be a regular file (it is replaced only at the end). The
// --hgrm directory, created when missing, needs its nearest existing parent
// to take a new file; the --transcripts all stream, an existing file opened
// for writing without truncating it. Every bad path is named, by its flag.
func (r *reportFlags) checkOutputs() error {
	type output struct {
		flag, path string
		dir        bool
	}
	outs := []output{{"--out", r.out, false}, {"--junit", r.junit, false}, {"--md", r.md, false}, {"--html", r.html, false}, {"--hgrm", r.hgrm, true}}
	if p, err := report.ParseTranscriptPolicy(r.transcripts); err == nil && p == report.TranscriptsAll {
		flag := "--transcripts-file"
		if r.transcriptsFile == "" {
			flag = "--transcripts all (next to --out)"
		}
		outs = append(outs, output{flag, r.transcriptsPath(), false})
	}
	var msgs []string
	for _, o := range outs {
		if o.path == "" {
			continue
		}
		if err := checkWritable(o.path, o.dir); err != nil {
			msgs = append(msgs, fmt.Sprintf("%s %s: %v", o.flag, o.path, err))
		}
	}
	if len(msgs) > 0 {
		return usageErr("%s\nevalrun: nothing was sent: outputs are checked before the first call", strings.Join(msgs, "\nevalrun: "))
	}
	return nil
}

// checkWritable reports why path (a file, or with dir a directory created
// when missing) cannot be written, or nil.
func checkWritable(path string, dir bool) error {
	fi, err := os.Stat(path)
	switch {
	case err == nil && dir && !fi.IsDir():
		return errors.New("exists and is not a directory")
	case err == nil && dir:
		return probeDir(path)
	case err == nil && !fi.Mode().IsRegular():
		return errors.New("exists and is not a regular file")
	case err == nil:
		f, err := os.OpenFile(path, os.O_WRONLY, 0) // no truncation: the old file stays until the new one is written
		if err != nil {
			return fmt.Errorf("cannot be written: %w", cause(err))
		}
		f.Close()
		return probeDir(filepath.Dir(path))
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return err
	}
	parent := filepath.Dir(path)
	if dir {
		// MkdirAll creates the missing directories: the nearest existing
		// one must take them.
		for {
			if _, err := os.Stat(parent); err == nil || filepath.Dir(parent) == parent {
				break
			}
			parent = filepath.Dir(parent)
		}
	}
	pi, err := os.Stat(parent)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist; create it first", parent)
	case err != nil:
		return err
	case !pi.IsDir():
		return fmt.Errorf("%s is not a directory", parent)
	}
	return probeDir(parent)
}

// probeDir creates and removes a temporary file in dir.
func probeDir(dir string) error {
	f, err := os.CreateTemp(dir, ".evalrun-probe-*")
	if err != nil {
		return fmt.Errorf("directory %s does not take new files: %w", dir, cause(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// cause is the reason of a path error, without the path (the message names
// it already).
func cause(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}
