package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/evalrun/evalrun/config"
)

// repeatable is implemented by flag values that may be given several times
// (--limit, --threshold, --stage); a list in evalrun.yaml sets them once per
// element.
type repeatable interface{ Repeatable() bool }

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
func (l *stringList) Repeatable() bool   { return true }

// loadConfig reads the configuration file: path when given (it must exist),
// else ./evalrun.yaml when present, else nothing.
func loadConfig(path string) (*config.File, error) {
	explicit := path != ""
	if !explicit {
		path = config.DefaultFile
	}
	cfg, err := config.Load(path)
	switch {
	case err == nil:
		return cfg, nil
	case !explicit && errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErr("--config %s: no such file", path)
	}
	return nil, &exitError{code: exitUsage, err: err}
}

// applyConfig sets every flag of fset that the file sets and the command
// line did not. Settings the flag set does not know are errors naming the
// place and the valid names; so are values the flag refuses.
func applyConfig(cfg *config.File, fset *flag.FlagSet, ignore ...string) error {
	if cfg == nil {
		return nil
	}
	onCommandLine := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	var valid []string
	fset.VisitAll(func(f *flag.Flag) {
		if f.Name != "config" {
			valid = append(valid, f.Name)
		}
	})
	valid = append(valid, "suite", "targets", "defaults", "judge", "user_model", "env_allow")
	sort.Strings(valid)

	var errs config.ErrorList
	for _, s := range cfg.Settings {
		s.Name = flagName(fset, s.Name)
		fl := fset.Lookup(s.Name)
		if fl == nil || s.Name == "config" {
			errs = append(errs, &config.Error{Pos: s.Pos, Msg: fmt.Sprintf("unknown setting %q%s; valid settings are the flags of this command: %s",
				s.Name, config.Suggest(s.Name, valid), strings.Join(valid, ", "))})
			continue
		}
		if onCommandLine[s.Name] {
			continue // the command line wins
		}
		if r, ok := fl.Value.(repeatable); len(s.Values) > 1 && (!ok || !r.Repeatable()) {
			errs = append(errs, &config.Error{Pos: s.Pos, Msg: fmt.Sprintf("%s takes one value, got a list of %d", s.Name, len(s.Values))})
			continue
		}
		for _, v := range s.Values {
			if err := fset.Set(s.Name, v); err != nil {
				errs = append(errs, &config.Error{Pos: s.Pos, Msg: fmt.Sprintf("%s: invalid value %q: %v", s.Name, v, err)})
				break
			}
			if msg := rangeErr(fl); msg != "" {
				errs = append(errs, &config.Error{Pos: s.Pos, Msg: fmt.Sprintf("%s: %s is out of range: %s", s.Name, v, msg)})
				break
			}
		}
	}
	if len(errs) > 0 {
		return &exitError{code: exitUsage, err: errs}
	}
	return nil
}

// applyTarget fills the run's target flags from the file's single target,
// where the command line left them unset. Several targets run side by side
// (resolveTargets, multitarget.go).
func applyTarget(cfg *config.File, fset *flag.FlagSet) error {
	if cfg == nil || len(cfg.Targets) != 1 {
		return nil
	}
	t := cfg.Targets[0]
	set := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, v := range map[string]string{"target": t.URL, "kind": t.Kind, "api-key-env": t.APIKeyEnv, "agent": t.Agent} {
		if v == "" || set[name] || fset.Lookup(name) == nil {
			continue
		}
		if err := fset.Set(name, v); err != nil {
			return &exitError{code: exitUsage, err: &config.Error{Pos: t.Pos, Msg: fmt.Sprintf("target %s: %s: %v", t.Name, name, err)}}
		}
	}
	return nil
}

// flagName maps a setting's name to its flag: snake_case is accepted for
// the dashes (cost_unit is --cost-unit), and the plural of a repeatable flag
// for the flag (thresholds is --threshold, limits is --limit).
func flagName(fset *flag.FlagSet, name string) string {
	name = strings.ReplaceAll(name, "_", "-")
	if fset.Lookup(name) != nil {
		return name
	}
	if one, ok := strings.CutSuffix(name, "s"); ok {
		if fl := fset.Lookup(one); fl != nil {
			if r, ok := fl.Value.(repeatable); ok && r.Repeatable() {
				return one
			}
		}
	}
	return name
}
