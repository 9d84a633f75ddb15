package main

import (
	"strings"
	"testing"
)

// TestMissingKeyBeforeQuota: a run whose key variable is empty is told so,
// not refused by a quota worked out without the ledger (the ledger is
// found by the key, so without one it would say "0 used"). Nothing is sent:
// the target is a closed port.
func TestMissingKeyBeforeQuota(t *testing.T) {
	c := cli{env: map[string]string{"OPTIMLY_API_KEY": ""}}
	code := c.run(t, "run", "--target", "http://127.0.0.1:9", "--plan", "starter", "--repeat", "1000",
		"--out", t.TempDir()+"/r.json", repoPath("examples"))
	out := c.stderr.String()
	if code != exitUsage || !strings.Contains(out, "OPTIMLY_API_KEY is empty") || strings.Contains(out, "quota:") {
		t.Errorf("exit %d, stderr:\n%s\nwant the empty key named, and no quota verdict", code, out)
	}
	// A dry run still plans without a key.
	d := cli{env: map[string]string{"OPTIMLY_API_KEY": ""}}
	if code := d.run(t, "run", "--dry-run", "--target", "http://127.0.0.1:9", "--plan", "starter", repoPath("examples")); code != exitOK {
		t.Errorf("dry run without a key: exit %d\n%s", code, d.stderr.String())
	}
}
