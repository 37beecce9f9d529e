package scorer

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"sync"
)

// The linear toxicity classifier: logistic regression over hashed word
// unigrams, word bigrams and character 3–5-grams of the normalised tokens,
// trained in Go (cmd/toxtrain) on the Davidson et al. tweets and the
// Surge AI set, both MIT-licensed (see lexicon/toxlr.json for the data's
// SHA-256, the held-out split, the hyperparameters and the cross-validated
// figures). The weights ship as data: lexicon/toxlr.bin.gz.

// LRDims is the number of hashed feature buckets.
const LRDims = 1 << 18

//go:embed lexicon/toxlr.bin.gz
var toxlrData []byte

// LRModel is a trained linear classifier.
type LRModel struct {
	Bias    float32
	Weights []float32 // LRDims
}

var (
	lrOnce  sync.Once
	lrModel *LRModel
)

// toxLR returns the embedded model (nil when none is embedded).
func toxLR() *LRModel {
	lrOnce.Do(func() {
		if len(toxlrData) == 0 {
			return
		}
		m, err := ReadLRModel(bytes.NewReader(toxlrData))
		if err == nil {
			lrModel = m
		}
	})
	return lrModel
}

// LRFeatures are the hashed features of a text (bucket indexes, deduplicated).
func LRFeatures(text string) []uint32 {
	toks := normTokens(text)
	seen := map[uint32]bool{}
	var out []uint32
	add := func(s string) {
		h := fnv.New64a()
		h.Write([]byte(s))
		i := uint32(h.Sum64() % LRDims)
		if !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	for i, t := range toks {
		t = squeeze(t, 2)
		add("w:" + t)
		if i > 0 {
			add("b:" + squeeze(toks[i-1], 2) + " " + t)
		}
		r := []rune("<" + t + ">")
		for n := 3; n <= 5; n++ {
			for j := 0; j+n <= len(r); j++ {
				add("c:" + string(r[j:j+n]))
			}
		}
	}
	return out
}

// Prob is the model's probability that a text is toxic.
func (m *LRModel) Prob(feats []uint32) float64 {
	if len(feats) == 0 {
		return sigmoid(float64(m.Bias))
	}
	z := float64(m.Bias)
	scale := 1 / math.Sqrt(float64(len(feats))) // L2-normalised binary features
	for _, f := range feats {
		z += float64(m.Weights[f]) * scale
	}
	return sigmoid(z)
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

var lrMagic = []byte("CAIRNLR1")

// WriteLRModel writes the model gzip-compressed: magic, dims, bias, weights
// (little-endian float32).
func WriteLRModel(w io.Writer, m *LRModel) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(lrMagic); err != nil {
		return err
	}
	if err := binary.Write(zw, binary.LittleEndian, uint32(len(m.Weights))); err != nil {
		return err
	}
	if err := binary.Write(zw, binary.LittleEndian, m.Bias); err != nil {
		return err
	}
	if err := binary.Write(zw, binary.LittleEndian, m.Weights); err != nil {
		return err
	}
	return zw.Close()
}

// ReadLRModel reads a model written by WriteLRModel.
func ReadLRModel(r io.Reader) (*LRModel, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	magic := make([]byte, len(lrMagic))
	if _, err := io.ReadFull(zr, magic); err != nil || !bytes.Equal(magic, lrMagic) {
		return nil, errors.New("toxicity model: bad header")
	}
	var dims uint32
	if err := binary.Read(zr, binary.LittleEndian, &dims); err != nil {
		return nil, err
	}
	if dims != LRDims {
		return nil, fmt.Errorf("toxicity model: %d dimensions, this cairn hashes into %d", dims, LRDims)
	}
	m := &LRModel{Weights: make([]float32, dims)}
	if err := binary.Read(zr, binary.LittleEndian, &m.Bias); err != nil {
		return nil, err
	}
	if err := binary.Read(zr, binary.LittleEndian, m.Weights); err != nil {
		return nil, err
	}
	return m, nil
}

// TrainLR fits the model by stochastic gradient descent on examples given
// in a fixed order (so training is deterministic): L2-regularised log loss,
// each class weighted to balance them.
func TrainLR(feats [][]uint32, labels []bool, epochs int, lr0, l2 float64) *LRModel {
	w := make([]float64, LRDims)
	b := 0.0
	pos := 0
	for _, y := range labels {
		if y {
			pos++
		}
	}
	neg := len(labels) - pos
	wPos, wNeg := 1.0, 1.0
	if pos > 0 && neg > 0 {
		wPos, wNeg = float64(len(labels))/(2*float64(pos)), float64(len(labels))/(2*float64(neg))
	}
	// A fixed permutation per epoch from a simple LCG: deterministic.
	order := make([]int, len(feats))
	for i := range order {
		order[i] = i
	}
	seed := uint64(42)
	step := 0
	for e := 0; e < epochs; e++ {
		for i := len(order) - 1; i > 0; i-- {
			seed = seed*6364136223846793005 + 1442695040888963407
			j := int(seed>>33) % (i + 1)
			order[i], order[j] = order[j], order[i]
		}
		for _, k := range order {
			f := feats[k]
			if len(f) == 0 {
				continue
			}
			step++
			eta := lr0 / math.Sqrt(1+float64(step)/float64(len(feats)))
			scale := 1 / math.Sqrt(float64(len(f)))
			z := b
			for _, i := range f {
				z += w[i] * scale
			}
			p := sigmoid(z)
			y, cw := 0.0, wNeg
			if labels[k] {
				y, cw = 1, wPos
			}
			g := cw * (p - y)
			b -= eta * g
			for _, i := range f {
				w[i] -= eta * (g*scale + l2*w[i])
			}
		}
	}
	m := &LRModel{Bias: float32(b), Weights: make([]float32, LRDims)}
	for i, v := range w {
		m.Weights[i] = float32(v)
	}
	return m
}
