package scorer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The support example's refunds article, as retrieved chunks.
func refundsChunks(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "examples", "support-assistant", "kb", "refunds.md"))
	if err != nil {
		t.Fatal(err)
	}
	paras := strings.Split(strings.TrimSpace(string(data)), "\n")
	return []string{strings.Join(paras[:3], "\n"), strings.Join(paras[3:], "\n")}
}

// Faithfulness is the share of the output's claims the retrieved context
// supports: known answers against the real article.
func TestFaithfulnessKnownAnswers(t *testing.T) {
	ctx := refundsChunks(t)
	for _, tc := range []struct {
		name     string
		output   string
		min, max float64
	}{
		{"verbatim", "Customers can request a refund within 30 days of purchase from the Orders page. Refunds are returned to the original payment method within 5 to 7 business days.", 1, 1},
		{"verbatim single", "Digital downloads that have been opened are not refundable, except where the law requires it.", 1, 1},
		{"paraphrase", "You can request a refund within 30 days of purchase. The refund goes back to the original payment method within 5 to 7 business days.", 1, 1},
		{"invented number", "Customers can request a refund within 30 days of purchase from the Orders page. Refunds are returned to the original payment method within 45 business days.", 0.5, 0.5},
		{"negated claim", "Customers can request a refund within 30 days of purchase. Annual plans cancelled within 14 days are not refunded.", 0.5, 0.5},
		{"negation dropped", "Digital downloads that have been opened are refundable.", 0, 0},
		{"unrelated", "Our office dogs love long walks in the park. Bananas are rich in potassium.", 0, 0.05},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Score(context.Background(), Settings{Scorer: "faithfulness"}, Input{Output: tc.output, Context: ctx}, Deps{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Score < tc.min || got.Score > tc.max {
				t.Errorf("faithfulness = %.3f (%s), want [%.2f, %.2f]", got.Score, got.Reason, tc.min, tc.max)
			}
		})
	}
}
