package agentsim

import (
	"math"
	"time"
)

// splitmix64 is a bijective 64-bit mixer: distinct inputs give distinct
// outputs, and the outputs look uniformly random.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Salts keep the pseudo-random streams of different purposes apart.
const (
	saltLatency uint64 = 0x6c6174656e6379 // "latency"
	saltFault   uint64 = 0x6661756c74     // "fault"
	saltChat    uint64 = 0x63686174       // "chat"
	saltMsg     uint64 = 0x6d7367         // "msg"
)

// draw returns a pseudo-random uint64 for (seed, salt, n).
func draw(seed int64, salt, n uint64) uint64 {
	return splitmix64(splitmix64(uint64(seed)^salt) ^ n)
}

// unit maps x to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// z99 is the standard normal quantile of 0.99.
const z99 = 2.3263478740408408

// sample returns the simulated latency of request n. A log-normal is capped
// at 10 × p99 so one unlucky draw cannot stall a test.
func (m LatencyModel) sample(seed int64, n uint64) time.Duration {
	if m.Fixed > 0 {
		return m.Fixed
	}
	if m.Median <= 0 {
		return 0
	}
	if m.P99 <= m.Median {
		return m.Median
	}
	// Box-Muller from two uniforms.
	u1 := unit(draw(seed, saltLatency, 2*n))
	u2 := unit(draw(seed, saltLatency, 2*n+1))
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	z := math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
	mu := math.Log(float64(m.Median))
	sigma := (math.Log(float64(m.P99)) - mu) / z99
	d := time.Duration(math.Exp(mu + sigma*z))
	return min(d, 10*m.P99)
}
