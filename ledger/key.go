package ledger

import (
	"crypto/sha256"
	"encoding/hex"
)

// fingerprintDomain separates the ledger's hashes of API keys from any other
// hash of the same key.
const fingerprintDomain = "evalrun ledger key fingerprint v1\x00"

// Fingerprint returns the name of an API key in the ledger: the first 12 hex
// digits (48 bits) of SHA-256 over a domain-separation prefix and the key. It
// tells keys apart without revealing them; the key itself is never stored.
func Fingerprint(key string) string {
	sum := sha256.Sum256([]byte(fingerprintDomain + key))
	return hex.EncodeToString(sum[:6])
}
