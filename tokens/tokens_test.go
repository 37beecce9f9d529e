package tokens

import "testing"

func TestCountKnownStrings(t *testing.T) {
	// Counts from OpenAI's tiktoken for these exact strings.
	cases := []struct {
		enc, text string
		want      int
	}{
		{Cl100k, "hello world", 2},
		{O200k, "hello world", 2},
		{Cl100k, "tiktoken is great!", 6},
		{Cl100k, "", 0},
	}
	for _, c := range cases {
		got, err := Count(c.enc, c.text)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("Count(%s, %q) = %d, want %d", c.enc, c.text, got, c.want)
		}
	}
}

func TestCl100kIDs(t *testing.T) {
	// The worked example in OpenAI's cookbook "How to count tokens with tiktoken".
	got := ids(t, Cl100k, "tiktoken is great!")
	want := []int{83, 1609, 5963, 374, 2294, 0}
	if len(got) != len(want) {
		t.Fatalf("ids = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ids = %v, want %v", got, want)
		}
	}
}

func TestEncodingFor(t *testing.T) {
	for id, want := range map[string]string{
		"gpt-4o-mini": O200k, "gpt-4.1": O200k, "gpt-5": O200k, "o3-mini": O200k, "o1": O200k,
		"gpt-4": Cl100k, "gpt-3.5-turbo": Cl100k, "llama-3-8b": Cl100k, "openai/gpt-4o": O200k,
	} {
		if got := EncodingFor(id); got != want {
			t.Errorf("EncodingFor(%q) = %s, want %s", id, got, want)
		}
	}
}
