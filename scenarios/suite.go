package scenarios

// Conversations returns how many conversations one pass over the suite
// runs: the sum of every scenario's Repeat.
func (s *Suite) Conversations() int {
	n := 0
	for _, sc := range s.Scenarios {
		n += sc.Repeat
	}
	return n
}

// Turns returns how many agent turns one pass over the suite sends at most
// (a conversation stopped by on_fail: stop sends fewer): the sum of Repeat
// × UserTurns (max_turns for a simulated scenario).
func (s *Suite) Turns() int {
	n := 0
	for _, sc := range s.Scenarios {
		n += sc.Repeat * sc.UserTurns()
	}
	return n
}

// Lookup returns the scenario with the given name, or nil.
func (s *Suite) Lookup(name string) *Scenario {
	for _, sc := range s.Scenarios {
		if sc.Name == name {
			return sc
		}
	}
	return nil
}

// Passed reports whether a scenario whose conversations passed `passed`
// times out of `runs` meets its MinPassRate. No runs never pass.
func (sc *Scenario) Passed(passed, runs int) bool {
	if runs <= 0 || passed < 0 {
		return false
	}
	// A tolerance keeps 0.8 × 5 = 4 from needing 4.000000000000001.
	return float64(passed) >= sc.MinPassRate*float64(runs)-1e-9
}
