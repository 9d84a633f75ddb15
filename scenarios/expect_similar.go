package scenarios

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// DefaultSimilarMin is the threshold of `similar:` when `min:` is not given.
const DefaultSimilarMin = 0.7

func init() {
	kinds["similar"] = kindSpec{doc: "the reply is lexically similar to this text: `similar: {to: TEXT, min: 0.7}`, cosine similarity 0-1 of word unigrams and bigrams", parse: parseSimilar}
}

func parseSimilar(d *decoder, v *yaml.Node) checker {
	if v.Kind == yaml.ScalarNode {
		d.errorf(v, "similar: expected a mapping {to: TEXT, min: 0.7}, got %s", describe(v))
		return nil
	}
	before := len(d.errs)
	fs, ok := d.fields(v, "similar", []string{"to", "min"})
	if !ok {
		return nil
	}
	c := similarCheck{min: DefaultSimilarMin}
	hasTo := false
	for _, f := range fs {
		switch f.name {
		case "to":
			if s, ok := d.nonEmpty(f.val, "similar.to"); ok && literal(d, f.val, "similar.to", s) {
				c.to, hasTo = s, true
			}
		case "min":
			if m, ok := d.fraction(f.val, "similar.min"); ok {
				c.min = m
			}
		}
	}
	if len(d.errs) > before {
		return nil
	}
	if !hasTo {
		d.errorf(v, "similar: missing to: the text the reply should resemble")
		return nil
	}
	c.vec = features(c.to)
	return c
}

type similarCheck struct {
	to  string
	min float64
	vec map[string]float64
}

func (c similarCheck) String() string {
	return "similar " + strconv.FormatFloat(c.min, 'f', -1, 64) + " to " + excerpt(c.to, 60)
}

func (c similarCheck) check(obs *Observation) (bool, string) {
	s := cosine(c.vec, features(obs.Text))
	if s >= c.min {
		return true, ""
	}
	return false, fmt.Sprintf("similarity %.2f to %s is below %s: reply %s", s, excerpt(c.to, 40), strconv.FormatFloat(c.min, 'f', -1, 64), replyExcerpt(obs.Text))
}

// explain gives the score of a reply that was similar enough.
func (c similarCheck) explain(obs *Observation) string {
	return fmt.Sprintf("similarity %.2f to %s reaches %s: reply %s", Similarity(c.to, obs.Text), excerpt(c.to, 40), strconv.FormatFloat(c.min, 'f', -1, 64), replyExcerpt(obs.Text))
}

// Similarity is the lexical similarity of two texts used by `similar:`, from
// 0 (no word in common) to 1 (the same words in the same order). Both texts
// are normalised: lower-cased, apostrophes dropped ("don't" → "dont"), and
// split into words at every character that is not a letter or a digit.
// Each text becomes a bag of its words (unigrams) and of its pairs of
// adjacent words (bigrams), and the result is the cosine of the two bags'
// count vectors. Bigrams make word order count: "the cat bit the dog" and
// "the dog bit the cat" score 0.91, not 1; "alpha beta" and "beta alpha"
// score 0.67. Two texts without any word
// score 1 when both are empty of words, 0 otherwise.
func Similarity(a, b string) float64 {
	return cosine(features(a), features(b))
}

// apostrophes are dropped before splitting: "don't" is one word.
var apostrophes = strings.NewReplacer("'", "", "\u2019", "")

// words normalises and splits a text (see Similarity).
func words(s string) []string {
	s = strings.ToLower(s)
	s = apostrophes.Replace(s)
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// features counts a text's unigrams and bigrams.
func features(s string) map[string]float64 {
	w := words(s)
	f := make(map[string]float64, 2*len(w))
	for i, x := range w {
		f[x]++
		if i > 0 {
			f[w[i-1]+" "+x]++
		}
	}
	return f
}

func cosine(a, b map[string]float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		if len(a) == len(b) {
			return 1
		}
		return 0
	}
	var dot, na, nb float64
	for k, x := range a {
		na += x * x
		dot += x * b[k]
	}
	for _, y := range b {
		nb += y * y
	}
	s := dot / (math.Sqrt(na) * math.Sqrt(nb))
	return math.Min(1, math.Max(0, s))
}
