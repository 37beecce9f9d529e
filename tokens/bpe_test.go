package tokens

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/dlclark/regexp2"
	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// reference is tiktoken-go on the same embedded ranks: the implementation
// the packed table replaced, and the one its ids must equal.
func reference(t testing.TB, encoding string) *tiktoken.Tiktoken {
	t.Helper()
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	tk, err := tiktoken.GetEncoding(encoding)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func ids(t testing.TB, encoding, text string) []int {
	t.Helper()
	tb, err := get(encoding)
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	tb.encode(text, func(r int) { out = append(out, r) })
	return out
}

// agreementTexts covers what the splitting patterns and the merge treat
// differently: letters in several scripts and cases, contractions in any
// case, digit runs, punctuation runs with newlines, whitespace before
// text and at the end, CRLF, combining marks, emoji, text that is not
// UTF-8, long unbroken pieces (the merge's worst case), special-token text.
func agreementTexts(t testing.TB) []string {
	texts := []string{
		"", " ", "  ", "\n", "\r\n", "\t \n  \n", "a", "hello world", "Hello World!",
		"tiktoken is great!", "I'm sure they'll say we've done it; THEY'LL, He'S, you'D",
		"1234567890 3.14159 -42 1e10 0x1F", "price: $1,299.99 (incl. 20% VAT)",
		"Grüße aus Köln — naïve café façade", "Привет, мир! Как дела?", "日本語のテキストと漢字", "한국어 텍스트",
		"مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "e\u0301le\u0300ve", "👩‍💻🚀🎉 emoji 🇩🇪",
		"foo\n\n\nbar   baz\t\tqux  ", "trailing spaces   ", "   leading", "line one\r\nline two\r\n",
		"{{ question }}\nContext: {{ context }}\nAnswer in JSON: {\"answer\": \"...\"}",
		"path/to/file.go:12:3: error", "https://example.com/a/b?c=d&e=f#g", "CamelCaseIdentifierXMLHttpRequest",
		"snake_case_name = value_42", "<|endoftext|> and <|fim_prefix|>", "\xff\xfe bad \xc3 utf8 \x80",
		strings.Repeat("a", 300), strings.Repeat("ab", 200), strings.Repeat("!?", 150), strings.Repeat("😀", 80),
		"supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic",
	}
	// Seeded random strings over a mixed alphabet.
	alphabet := []rune("abcXYZ019 \n\t.,'!?-_/éßж日😀\u0301")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := rng.IntN(120)
		var b strings.Builder
		for range n {
			b.WriteRune(alphabet[rng.IntN(len(alphabet))])
		}
		texts = append(texts, b.String())
	}
	// Real prose and code: this repository's README.
	if b, err := os.ReadFile("../README.md"); err == nil {
		texts = append(texts, string(b))
	}
	return texts
}

func TestCountAgrees(t *testing.T) {
	for _, enc := range []string{Cl100k, O200k} {
		ref := reference(t, enc)
		for _, text := range agreementTexts(t) {
			want := ref.EncodeOrdinary(text)
			if got := ids(t, enc, text); !slices.Equal(got, want) {
				t.Fatalf("%s %.60q: ids %v, tiktoken-go %v", enc, text, head(got), head(want))
			}
			if n, err := Count(enc, text); err != nil || n != len(want) {
				t.Fatalf("%s %.60q: Count = %d, %v; tiktoken-go %d", enc, text, n, err, len(want))
			}
		}
	}
}

func head(s []int) []int { return s[:min(len(s), 20)] }

func FuzzCountAgrees(f *testing.F) {
	for _, s := range agreementTexts(f)[:40] {
		f.Add(s)
	}
	refs := map[string]*tiktoken.Tiktoken{Cl100k: reference(f, Cl100k), O200k: reference(f, O200k)}
	f.Fuzz(func(t *testing.T, text string) {
		for enc, ref := range refs {
			if got, want := ids(t, enc, text), ref.EncodeOrdinary(text); !slices.Equal(got, want) {
				t.Fatalf("%s %q: ids %v, tiktoken-go %v", enc, text, head(got), head(want))
			}
		}
	})
}

func TestUnknownEncoding(t *testing.T) {
	_, err := Count("p99k_base", "x")
	if err == nil || !strings.Contains(err.Error(), `"p99k_base"`) {
		t.Fatalf("err = %v, want one naming the encoding", err)
	}
}

func BenchmarkLoad(b *testing.B) {
	for _, enc := range []string{Cl100k, O200k} {
		b.Run(enc, func(b *testing.B) {
			for b.Loop() {
				if _, err := load(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLoadTiktokenGo(b *testing.B) {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
	for _, enc := range []string{Cl100k, O200k} {
		b.Run(enc, func(b *testing.B) {
			for b.Loop() {
				ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(enc + ".tiktoken")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := tiktoken.NewCoreBPE(ranks, nil, `\s+`); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCount(b *testing.B) {
	text, err := os.ReadFile("../README.md")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("packed", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if _, err := Count(O200k, string(text)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("tiktoken-go", func(b *testing.B) {
		ref := reference(b, O200k)
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			ref.EncodeOrdinary(string(text))
		}
	})
}

// A ranks file whose ranks are not its line numbers keeps them, and a
// malformed one is refused at its line.
func TestBuild(t *testing.T) {
	split := mustSplit(t, Cl100k)
	// The bytes "a", "b", "ab" with ranks 7, 3, 5: "ab" is one token, rank 5.
	tb, err := build("x.tiktoken", strings.NewReader("YQ== 7\nYg== 3\nYWI= 5\n"), 24, split)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	tb.encode("abba", func(r int) { got = append(got, r) })
	// "abba" is not a token: "ab" merges (rank 5), nothing else does.
	if want := []int{5, 3, 7}; !slices.Equal(got, want) {
		t.Errorf("ids %v, want %v", got, want)
	}
	for _, c := range []struct{ in, want string }{
		{"YQ== 0\nYg==\n", "x.tiktoken:2: no rank after the token"},
		{"YQ== 0\n!!!! 1\n", "x.tiktoken:2: illegal base64"},
		{"YQ== 0\nYg== one\n", `x.tiktoken:2: strconv.ParseUint: parsing "one"`},
	} {
		_, err := build("x.tiktoken", strings.NewReader(c.in), int64(len(c.in)), split)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.in, err, c.want)
		}
	}
}

func mustSplit(t *testing.T, encoding string) *regexp2.Regexp {
	t.Helper()
	re, err := regexp2.Compile(patterns[encoding], regexp2.None)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
