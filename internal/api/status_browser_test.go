package api

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testenv"
)

// chromiumPath finds a headless-capable Chromium.
func chromiumPath() (string, bool) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// runChromium runs headless Chromium with a fresh profile and returns its
// stdout and stderr.
func runChromium(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
		"--hide-scrollbars", "--enable-logging=stderr", "--v=0",
		"--user-data-dir=" + t.TempDir(), "--window-size=1280,900"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.WaitDelay = 5 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	// A refused inline stylesheet shows up as a console message.
	if strings.Contains(errb.String(), "Content Security Policy") {
		t.Errorf("chromium reports a CSP violation:\n%s", errb.String())
	}
	return out.String(), errb.String()
}

// checkScreenshot decodes the PNG, checks that it is a real rendering of a
// styled page (the dark header bar, a red "failed" badge when wantRed), and
// copies it to a stable path for people to look at.
func checkScreenshot(t *testing.T, file, keep string, wantRed bool) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	bounds := img.Bounds()
	if bounds.Dx() != 1280 || bounds.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1280x900", bounds.Size())
	}
	colours := map[color.RGBA]int{}
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 2 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}]++
		}
	}
	if len(colours) < 50 {
		t.Errorf("screenshot has %d colours: a blank or unstyled page", len(colours))
	}
	// The header bar is #1f2937: the stylesheet was applied.
	if got := rgb(img.At(5, 5)); got != (color.RGBA{0x1f, 0x29, 0x37, 255}) {
		t.Errorf("pixel (5,5) = %v, want the header's #1f2937: stylesheet not applied?", got)
	}
	if red := colours[color.RGBA{0xb4, 0x23, 0x18, 255}]; wantRed && red < 20 {
		t.Errorf("only %d pixels of the failed badge's red #b42318", red)
	}
	if err := os.WriteFile(keep, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes, %d colours)", keep, len(b), len(colours))
}

func rgb(c color.Color) color.RGBA {
	r, g, b, _ := c.RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}
}

// TestStatusPageInChromium serves the status pages from the real HTTP server
// and loads them in headless Chromium: the DOM holds every app, and the
// screenshots show a styled page. They are kept in os.TempDir() as
// driftless-status.png and driftless-app.png.
func TestStatusPageInChromium(t *testing.T) {
	bin, ok := chromiumPath()
	if !ok {
		testenv.Unavailable(t, "chromium not installed (apt-get install -y --no-install-recommends chromium)")
	}
	ctl := demoController(time.Now())
	srv := New(ctl, nil, "", prometheus.NewRegistry(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("server: %v", err)
		}
	})
	base := "http://" + ln.Addr().String()

	t.Run("index", func(t *testing.T) {
		dom, _ := runChromium(t, bin, "--dump-dom", base+"/")
		for _, a := range ctl.apps {
			if !strings.Contains(dom, `href="/apps/`+a.Repo+`/`+a.App+`"`) {
				t.Errorf("DOM lacks a link to %s/%s", a.Repo, a.App)
			}
		}
		for _, want := range []string{"<title>driftless: 1 failed, 1 drifted, 1 awaiting-approval</title>",
			`<strong>8</strong> apps`, `<span class="badge st-failed">failed</span>`,
			"apply: &lt;script&gt;alert(\"pwned\")&lt;/script&gt; &amp; exit status 1"} {
			if !strings.Contains(dom, want) {
				t.Errorf("DOM lacks %q", want)
			}
		}
		// The error text stayed text: the browser made no <script> of it.
		if strings.Contains(dom, "<script") {
			t.Errorf("the DOM has a script element:\n%s", dom)
		}
		shot := filepath.Join(t.TempDir(), "index.png")
		runChromium(t, bin, "--screenshot="+shot, base+"/")
		checkScreenshot(t, shot, filepath.Join(os.TempDir(), "driftless-status.png"), true)
	})

	t.Run("app", func(t *testing.T) {
		dom, _ := runChromium(t, bin, "--dump-dom", base+"/apps/platform/network")
		for _, want := range []string{"<h2>Last plan</h2>", "aws_nat_gateway.legacy", "<h2>History</h2>", "carol"} {
			if !strings.Contains(dom, want) {
				t.Errorf("DOM lacks %q", want)
			}
		}
		shot := filepath.Join(t.TempDir(), "app.png")
		runChromium(t, bin, "--screenshot="+shot, base+"/apps/platform/network")
		checkScreenshot(t, shot, filepath.Join(os.TempDir(), "driftless-app.png"), true)
	})

	t.Run("not found", func(t *testing.T) {
		dom, _ := runChromium(t, bin, "--dump-dom", base+"/apps/platform/nope")
		if !strings.Contains(dom, "404 · No such app") {
			t.Errorf("DOM of an unknown app lacks the 404 heading:\n%s", dom)
		}
	})
}
