package redact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestString(t *testing.T) {
	r := New("ghp_secret123", "xoxb-slack-token", "", "ab")
	cases := map[string]string{
		"token ghp_secret123 leaked":                     "token [redacted] leaked",
		"https://x-access-token:ghp_secret123@host/repo": "https://[redacted]@host/repo",
		"nats://user:pw@127.0.0.1:4222":                  "nats://[redacted]@127.0.0.1:4222",
		"Bearer xoxb-slack-token":                        "Bearer [redacted]",
		"nothing about ab here":                          "nothing about ab here",
		"mail ada@example.com":                           "mail ada@example.com",
	}
	for in, want := range cases {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHandlerMasksEverything(t *testing.T) {
	var buf bytes.Buffer
	r := New("s3cr3t-value")
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: r.ReplaceAttr})))
	log.With("url", "https://u:s3cr3t-value@h").Info("msg with s3cr3t-value",
		"err", errors.New("auth s3cr3t-value failed"), "list", []string{"s3cr3t-value"}, "plain", "s3cr3t-value")
	if strings.Contains(buf.String(), "s3cr3t-value") {
		t.Fatalf("secret leaked: %s", buf.String())
	}
	if !strings.Contains(buf.String(), Mask) {
		t.Fatalf("no mask in %s", buf.String())
	}
}

func TestStringForms(t *testing.T) {
	r := New(`p@ss w"rd/1&x`, "ghp_abc123")
	tests := []struct{ name, in, want string }{
		{"literal", `pw p@ss w"rd/1&x here`, "pw [redacted] here"},
		{"JSON-escaped", `{"password":"p@ss w\"rd/1&x"}`, `{"password":"[redacted]"}`},
		{"JSON-escaped for HTML", `{"password":"p@ss w\"rd/1\u0026x"}`, `{"password":"[redacted]"}`},
		{"query-escaped", "?q=p%40ss+w%22rd%2F1%26x&b=2", "?q=[redacted]&b=2"},
		{"path-escaped", "/p@ss%20w%22rd%2F1&x/next", "/[redacted]/next"},
		{"token@host", "clone https://ghp_abc123@github.com/a/b failed", "clone https://[redacted]@github.com/a/b failed"},
		{"unknown token@host", "https://ghp_zzz999@github.com/a/b", "https://[redacted]@github.com/a/b"},
		{"user:pass@host", "postgres://app:hunter22@db:5432/x", "postgres://[redacted]@db:5432/x"},
		{"@ in password", "postgres://app:p@ss@db/x", "postgres://[redacted]@db/x"},
		{"token param", "GET https://h/x?token=abc123def&page=2", "GET https://h/x?token=[redacted]&page=2"},
		{"access_token param", "https://h/x?a=1&access_token=zz_top_99", "https://h/x?a=1&access_token=[redacted]"},
		{"password param", "https://h/x?password=hunter2", "https://h/x?password=[redacted]"},
		{"secret param", "https://h/x?secret=s3", "https://h/x?secret=[redacted]"},
		{"sig param", "https://acct.blob.core.windows.net/c/b?sv=2020&sig=AbC%2Fd", "https://acct.blob.core.windows.net/c/b?sv=2020&sig=[redacted]"},
		{"X-Amz-Signature", "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=deadbeef", "https://b.s3.amazonaws.com/k?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]"},
		{"harmless query", "https://h/x?page=2&max_tokens=5", "https://h/x?page=2&max_tokens=5"},
		{"e-mail", "mail ada@example.com", "mail ada@example.com"},
		{"@ after path", "https://h/a@b", "https://h/a@b"},
		{"@ in query", "https://h/x?who=a@b", "https://h/x?who=a@b"},
		{"short values ignored", "abc", "abc"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("%s: String(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestNilRedactorMasksURLs(t *testing.T) {
	var r *Redactor
	if got := r.String("https://u:p@h/x"); got != "https://[redacted]@h/x" {
		t.Errorf("nil String = %q", got)
	}
}

func TestAdd(t *testing.T) {
	r := New()
	if got := r.String("late-secret-1"); got != "late-secret-1" {
		t.Fatalf("masked before Add: %q", got)
	}
	r.Add("late-secret-1", "  ", "ab")
	r.Add("late-secret-1-longer") // longer, containing the first: masked whole
	r.Add("postgres://appuser:url-pass-77@db/x")
	if got := r.String("auth failed for appuser with url-pass-77"); got != "auth failed for [redacted] with [redacted]" {
		t.Errorf("a URL secret does not add its credentials: %q", got)
	}
	if got := r.String("a late-secret-1 b late-secret-1-longer c"); got != "a [redacted] b [redacted] c" {
		t.Errorf("after Add: %q", got)
	}
}

func TestURL(t *testing.T) {
	tests := []struct{ in, url, public string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cret@host:4222", "nats://[redacted]@host:4222", "nats://host:4222"},
		{"nats://tok3n@host:4222", "nats://[redacted]@host:4222", "nats://host:4222"},
		{"nats://a:p1@h1:4222, nats://a:p1@h2:4222", "nats://[redacted]@h1:4222,nats://[redacted]@h2:4222", "nats://h1:4222,nats://h2:4222"},
		{"alice:s3cret@host:4222", "[redacted]@host:4222", "host:4222"},
		{"tls://u:p%40ss@host", "tls://[redacted]@host", "tls://host"},
		{"https://ghp_abc123@github.com/acme/p.git", "https://[redacted]@github.com/acme/p.git", "https://github.com/acme/p.git"},
		{"https://x:p@ss@github.com/a@b", "https://[redacted]@github.com/a@b", "https://github.com/a@b"},
		{"https://h/x?token=abc&a=1", "https://h/x?token=[redacted]&a=1", "https://h/x?token=[redacted]&a=1"},
		{"git@github.com:acme/p.git", "[redacted]@github.com:acme/p.git", "github.com:acme/p.git"},
		{"/srv/git/repo", "/srv/git/repo", "/srv/git/repo"},
	}
	for _, tt := range tests {
		if got := URL(tt.in); got != tt.url {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.url)
		}
		if got := PublicURL(tt.in); got != tt.public {
			t.Errorf("PublicURL(%q) = %q, want %q", tt.in, got, tt.public)
		}
	}
}

func TestError(t *testing.T) {
	r := New("hunter2-token")
	base := &url.Error{Op: "Get", URL: "https://u:hunter2-token@h/x", Err: context.DeadlineExceeded}
	err := r.Error(fmt.Errorf("poll: %w", base))
	if strings.Contains(err.Error(), "hunter2-token") {
		t.Fatalf("secret in %q", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("errors.Is does not see the original chain")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		t.Error("errors.As digs out the unredacted error")
	}
	if errors.Unwrap(err) != nil {
		t.Error("Unwrap exposes the unredacted error")
	}
	if wrapped := fmt.Errorf("outer: %w", err); !errors.Is(wrapped, context.DeadlineExceeded) {
		t.Error("errors.Is fails through a further wrap")
	}
	if r.Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}

func TestWriterAcrossChunks(t *testing.T) {
	r := New("chunked-secret-42")
	var out bytes.Buffer
	w := r.Writer(&out)
	in := "line one chunked-secret-42\nsecond https://tok@h/x and chunked-secret-42 again\nlast chunked-secret-42"
	for i := 0; i < len(in); i += 3 { // every secret straddles a write
		if _, err := w.Write([]byte(in[i:min(i+3, len(in))])); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), "last") {
		t.Errorf("an unterminated line was written before Close: %q", out.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "line one [redacted]\nsecond https://[redacted]@h/x and [redacted] again\nlast [redacted]"
	if out.String() != want {
		t.Errorf("stream = %q, want %q", out.String(), want)
	}
}

func TestWriterLongLine(t *testing.T) {
	r := New("long-line-secret")
	var out bytes.Buffer
	w := r.Writer(&out)
	line := strings.Repeat("x", maxLine) + " long-line-secret " + strings.Repeat("y", maxLine)
	if _, err := w.Write([]byte(line)); err != nil {
		t.Fatal(err)
	}
	if out.Len() == 0 {
		t.Error("a line longer than maxLine is buffered whole")
	}
	w.Close()
	if strings.Contains(out.String(), "long-line-secret") || out.Len() != len(line)-len("long-line-secret")+len(Mask) {
		t.Errorf("long line: %d bytes, secret masked: %v", out.Len(), !strings.Contains(out.String(), "long-line-secret"))
	}
}

func TestConcurrentAddString(t *testing.T) {
	r := New("first-secret")
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r.Add(fmt.Sprintf("secret-%d-%d", g, i))
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if got := r.String("x first-secret y"); got != "x [redacted] y" {
					t.Errorf("String = %q", got)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := r.String("secret-3-199"); got != Mask {
		t.Errorf("a secret added concurrently is not masked: %q", got)
	}
}

func TestURLCredentials(t *testing.T) {
	got := URLCredentials("nats://alice:p%40ss@h1:4222, nats://tok3n@h2,nats://h3")
	want := []string{"alice", "p%40ss", "p@ss", "tok3n"}
	if !slices.Equal(got, want) {
		t.Errorf("URLCredentials = %q, want %q", got, want)
	}
}
