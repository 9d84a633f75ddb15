package runner

import (
	"context"
	"slices"
	"testing"
)

func TestParseShard(t *testing.T) {
	tests := []struct {
		in      string
		want    Shard
		wantErr bool
	}{
		{"", Shard{}, false},
		{"1/1", Shard{1, 1}, false},
		{"2/3", Shard{2, 3}, false},
		{" 3 / 3 ", Shard{3, 3}, false},
		{"0/3", Shard{}, true},
		{"4/3", Shard{}, true},
		{"1/0", Shard{}, true},
		{"1", Shard{}, true},
		{"a/b", Shard{}, true},
		{"-1/3", Shard{}, true},
	}
	for _, tt := range tests {
		got, err := ParseShard(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseShard(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.String() != "" {
			if again, _ := ParseShard(got.String()); again != got {
				t.Errorf("%v does not round-trip", got)
			}
		}
	}
	if s, err := ShardFromIndex(0, 4); err != nil || s != (Shard{1, 4}) {
		t.Errorf("ShardFromIndex(0, 4) = %v, %v", s, err)
	}
}

func TestShardSharesAddUp(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		for _, x := range []int64{0, 1, 5, 6, 1000, 1001} {
			var share, convs int64
			seen := map[int]int{}
			for i := 1; i <= n; i++ {
				s := Shard{i, n}
				share += s.Share(x)
				convs += s.Conversations(x)
				for id := 1; id <= int(x); id++ {
					if s.Has(id) {
						seen[id]++
					}
				}
			}
			if share != x || convs != x {
				t.Errorf("n=%d x=%d: shares add to %d, conversations to %d", n, x, share, convs)
			}
			for id := 1; id <= int(x); id++ {
				if seen[id] != 1 {
					t.Errorf("n=%d: conversation %d in %d shards", n, id, seen[id])
				}
			}
		}
	}
	if got := (Shard{2, 3}).Share(-1); got != -1 {
		t.Errorf("Share(-1) = %d; no limit must stay no limit", got)
	}
	if r, b := (Shard{1, 4}).ShareRate(10, 10); r != 2.5 || b != 2 {
		t.Errorf("ShareRate(10, 10) = %v, %d", r, b)
	}
	if _, b := (Shard{1, 4}).ShareRate(1, 1); b != 1 {
		t.Errorf("burst %d, want at least 1", b)
	}
}

func TestShardEstimatesAddUp(t *testing.T) {
	suite := suiteOf(scenario(t, "a", 1, 5), scenario(t, "b", 3, 2), scenario(t, "c", 2, 1))
	whole := EstimateCost(suite, 2, 0)
	for _, n := range []int{2, 3, 4} {
		var calls, convs int64
		for i := 1; i <= n; i++ {
			e := Shard{i, n}.EstimateCost(suite, int64(len(plan(suite))), 2, 0)
			calls += e.Calls
			convs += e.Conversations
		}
		if calls != whole.Calls || convs != whole.Conversations {
			t.Errorf("n=%d: shards estimate %d calls in %d conversations, whole %d in %d", n, calls, convs, whole.Calls, whole.Conversations)
		}
	}
	// Whole-run estimate through the zero Shard equals EstimateCost.
	if e := (Shard{}).EstimateCost(suite, int64(len(plan(suite))), 2, 0.1); e != EstimateCost(suite, 2, 0.1) {
		t.Errorf("zero shard %+v, EstimateCost %+v", e, EstimateCost(suite, 2, 0.1))
	}
	// Fit: the largest prefix of the shard's conversations that fits.
	s := Shard{2, 3}
	m, e := s.Fit(suite, int64(len(plan(suite))), 7, 1, 0)
	if e.WorstCase > 7 || s.estimate(newOrder(suite), costOptions(nil), m+1, 1, 0).WorstCase <= 7 && m < s.Conversations(int64(len(plan(suite)))) {
		t.Errorf("Fit = %d (%+v): not the largest that fits 7", m, e)
	}
}

// A sharded Run hands out the shard's conversations with their run-wide
// numbers, so n shards together run each conversation of the whole once.
func TestRunShard(t *testing.T) {
	suite := suiteOf(scenario(t, "a", 1, 4), scenario(t, "b", 2, 3))
	var all []int
	for i := 1; i <= 3; i++ {
		rec := &recorder{}
		sum, err := Run(context.Background(), suite, Options{Conn: &fakeConn{}, Concurrency: 2, Observer: rec, Shard: Shard{i, 3}})
		if err != nil {
			t.Fatal(err)
		}
		for id, c := range rec.byID(t) {
			if (id-1)%3 != i-1 {
				t.Errorf("shard %d/3 ran conversation %d", i, id)
			}
			if c.Outcome != Passed {
				t.Errorf("conversation %d: %s", id, c.Outcome)
			}
			all = append(all, id)
		}
		if sum.Conversations != len(rec.convs) {
			t.Errorf("summary says %d conversations, %d reported", sum.Conversations, len(rec.convs))
		}
	}
	slices.Sort(all)
	if want := []int{1, 2, 3, 4, 5, 6, 7}; !slices.Equal(all, want) {
		t.Errorf("shards ran %v, want %v", all, want)
	}
}

func TestSuiteDigest(t *testing.T) {
	a := suiteOf(scenario(t, "a", 1, 2))
	b := suiteOf(scenario(t, "a", 1, 3))
	if SuiteDigest(a) == SuiteDigest(b) || SuiteDigest(a) != SuiteDigest(suiteOf(scenario(t, "a", 1, 2))) {
		t.Error("the digest must change with the plan and only with it")
	}
}
