package rag

import (
	"context"
	"strings"
	"testing"
)

// Scripts, styles and head content are not page text; entities are decoded,
// never re-escaped (the QA page showed `alert(&#34;not content&#34;)`).
func TestHTMLTextOnly(t *testing.T) {
	page := `<!doctype html><html><head><title>SSO</title><style>body{font-family:x}</style>
<script>alert("in head")</script></head>
<body><h1>Single sign-on &amp; SAML</h1>
<p>Use the "Connect" button &lt;admin only&gt;.</p>
<script>alert("not content")</script><noscript>enable JS</noscript>
<template><p>hidden</p></template></body></html>`
	docs, err := parse(context.Background(), "html", []byte(page))
	if err != nil {
		t.Fatal(err)
	}
	got := docs[0].PageContent
	for _, want := range []string{`Single sign-on & SAML`, `Use the "Connect" button <admin only>.`} {
		if !strings.Contains(got, want) {
			t.Errorf("text %q lacks %q", got, want)
		}
	}
	for _, bad := range []string{"alert", "font-family", "enable JS", "hidden", "&#34;", "&amp;", "SSO"} {
		if strings.Contains(got, bad) {
			t.Errorf("text %q contains %q", got, bad)
		}
	}
	// A fragment without <body> is parsed whole.
	docs, err = parse(context.Background(), "html", []byte(`<p>Plain &quot;fragment&quot;</p><script>x()</script>`))
	if err != nil || docs[0].PageContent != `Plain "fragment"` {
		t.Errorf("fragment: %q %v", docs[0].PageContent, err)
	}
}
