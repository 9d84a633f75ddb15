package report

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestHgrmGolden(t *testing.T) {
	res := mixedResult()
	for _, h := range []struct{ kind, name string }{{HistOverall, "all"}, {HistTurn, "1"}} {
		var buf bytes.Buffer
		if err := WriteHgrm(&buf, res.Histogram(h.kind, h.name)); err != nil {
			t.Fatal(err)
		}
		golden(t, "hgrm_mixed_"+h.kind+"-"+h.name+".hgrm", buf.Bytes())
	}
}

var hgrmLine = regexp.MustCompile(`^ {0,11}\d+\.\d{3} \d\.\d{12} {0,9}\d+( {0,13}\d+\.\d{2})?$`)

// TestHgrmFormat checks the layout against HdrHistogram's Java output and
// the numbers against the Go library's own PercentilesPrint.
func TestHgrmFormat(t *testing.T) {
	a := NewAggregator(Meta{})
	feedBulk(a, 500)
	h := a.Result(Finish{}).Histogram(HistOverall, "all")
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, h); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if lines[0] != "       Value     Percentile TotalCount 1/(1-Percentile)" || lines[1] != "" {
		t.Fatalf("header %q %q", lines[0], lines[1])
	}
	body, foot := lines[2:len(lines)-3], lines[len(lines)-3:]
	for i, l := range body {
		if !hgrmLine.MatchString(l) {
			t.Errorf("line %d %q is not a percentile line", i+3, l)
		}
		last := i == len(body)-1
		if hasInv := len(strings.Fields(l)) == 4; hasInv == last {
			t.Errorf("line %d %q: only the last line (100%%) lacks 1/(1-p)", i+3, l)
		}
	}
	footRE := []*regexp.Regexp{
		regexp.MustCompile(`^#\[Mean    = +\d+\.\d{3}, StdDeviation   = +\d+\.\d{3}\]$`),
		regexp.MustCompile(`^#\[Max     = +\d+\.\d{3}, Total count    = +2000\]$`),
		regexp.MustCompile(`^#\[Buckets = +19, SubBuckets     = +2048\]$`),
	}
	for i, re := range footRE {
		if !re.MatchString(foot[i]) {
			t.Errorf("footer line %q does not match %s", foot[i], re)
		}
	}

	// The library's own printer: same values and counts, other layout.
	hist, err := h.Decode()
	if err != nil {
		t.Fatal(err)
	}
	var lib bytes.Buffer
	if _, err := hist.PercentilesPrint(&lib, HgrmTicksPerHalfDistance, hgrmScale); err != nil {
		t.Fatal(err)
	}
	libLines := strings.Split(strings.TrimSuffix(lib.String(), "\n"), "\n")
	libBody := libLines[2 : len(libLines)-3]
	if len(libBody) != len(body) {
		t.Fatalf("%d percentile lines, the library prints %d", len(body), len(libBody))
	}
	for i := range body {
		got, want := strings.Fields(body[i]), strings.Fields(libBody[i])
		gp, _ := strconv.ParseFloat(got[1], 64)
		wp, _ := strconv.ParseFloat(want[1], 64)
		if got[0] != want[0] || got[2] != want[2] || gp-wp > 1e-6 || wp-gp > 1e-6 {
			t.Errorf("line %d: %v, library %v", i+3, got, want)
		}
	}
	if strings.Join(strings.Fields(foot[2]), " ") != strings.Join(strings.Fields(libLines[len(libLines)-1]), " ") {
		t.Errorf("footer %q, library %q", foot[2], libLines[len(libLines)-1])
	}
}

func TestHgrmEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteHgrm(&buf, emptyResult().Histogram(HistOverall, "all")); err != nil {
		t.Fatal(err)
	}
	want := "       Value     Percentile TotalCount 1/(1-Percentile)\n\n" +
		"#[Mean    =        0.000, StdDeviation   =        0.000]\n" +
		"#[Max     =        0.000, Total count    =            0]\n" +
		"#[Buckets =           19, SubBuckets     =         2048]\n"
	if buf.String() != want {
		t.Errorf("empty histogram:\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestHgrmDir(t *testing.T) {
	res := mixedResult()
	res.Histograms = append(res.Histograms,
		HistogramResult{Kind: HistScenario, Name: "../../etc/passwd", Encoded: res.Histograms[0].Encoded, Count: res.Histograms[0].Count},
		HistogramResult{Kind: HistScenario, Name: "../../etc/passwd?", Encoded: res.Histograms[0].Encoded, Count: res.Histograms[0].Count},
		HistogramResult{Kind: HistScenario, Name: "Grüße aus Köln", Encoded: res.Histograms[0].Encoded, Count: res.Histograms[0].Count})
	dir := filepath.Join(t.TempDir(), "hgrm")
	paths, err := WriteHgrmDir(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range paths {
		if filepath.Dir(p) != dir {
			t.Errorf("%s written outside %s", p, dir)
		}
		names = append(names, filepath.Base(p))
	}
	want := []string{"overall-all.hgrm", "call_kind-new_chat.hgrm", "call_kind-turn.hgrm",
		"scenario-appointment.hgrm", "scenario-human-handoff.hgrm", "scenario-pricing.hgrm",
		"turn_index-0.hgrm", "turn_index-1.hgrm",
		"scenario-_._.._etc_passwd.hgrm", "scenario-_._.._etc_passwd_.hgrm", "scenario-Gr__e_aus_K_ln.hgrm"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("files:\n%v\nwant\n%v", names, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want) {
		t.Errorf("%d files in the directory, want %d", len(entries), len(want))
	}
	b, _ := os.ReadFile(filepath.Join(dir, "overall-all.hgrm"))
	if !bytes.HasPrefix(b, []byte("       Value")) {
		t.Errorf("overall-all.hgrm starts %q", b[:min(len(b), 40)])
	}
}

func TestHgrmFileNameCollision(t *testing.T) {
	res := &Result{Histograms: []HistogramResult{
		mixedResult().Histograms[0], mixedResult().Histograms[0], mixedResult().Histograms[0]}}
	res.Histograms[1].Kind, res.Histograms[1].Name = HistScenario, "a/b"
	res.Histograms[2].Kind, res.Histograms[2].Name = HistScenario, "a:b"
	paths, err := WriteHgrmDir(t.TempDir(), res)
	if err != nil {
		t.Fatal(err)
	}
	if got := filepath.Base(paths[2]); got != "scenario-a_b-2.hgrm" {
		t.Errorf("colliding name became %q, want scenario-a_b-2.hgrm", got)
	}
}
