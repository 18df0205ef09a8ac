package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/driftless/driftless/internal/config"
	"github.com/driftless/driftless/internal/testenv"
	"github.com/driftless/driftless/notify"
)

// benchPushes is the number of webhook pushes measured per iteration.
const benchPushes = 20

const benchWebhookSecret = "bench-webhook-secret-0123456789"

func benchWebhookTF(gen int) string {
	return fmt.Sprintf("resource \"terraform_data\" \"r\" {\n  input = \"gen%d\"\n}\n", gen)
}

// BenchmarkWebhookToDeployStarted is issue 5's benchmark: the daemon
// in-process (startDaemon, embedded NATS, real Git repo over file://, real
// Terraform) with one terraform_data stack, polling every hour so that
// only the webhook triggers polls. Each of benchPushes pushes commits a
// change, POSTs a signed GitHub push payload to /hooks/github and measures
// the time until the deploy.started event of that revision arrives on the
// event stream (poll, fetch, load, plan: deploy.started is emitted when the
// apply begins); deploy.succeeded is awaited before the next push.
// Metrics: p50-ms (goal ≤ 150), p99-ms and max-ms of that latency; its
// split, per push: plan-p50-ms, the Terraform applier's plan (from its
// "terraform plan done" log), and controller-p50-ms, the rest (webhook,
// poll and fetch, manifest load, change detection, work-dir sync, lease,
// in-flight marker, event); fetch-by-hand-p50-ms, the baseline: `git
// fetch` of the same new commit into a bare clone, run after each push.
func BenchmarkWebhookToDeployStarted(b *testing.B) { benchWebhook(b, 0, "0") }

// BenchmarkWebhookDuringDriftScans is the same with 100 more stacks whose
// drift is scanned back to back (drift_interval 1s): a push must not wait
// for the scans (goal: p50 < 1 s).
func BenchmarkWebhookDuringDriftScans(b *testing.B) { benchWebhook(b, 100, "1s") }

func benchWebhook(b *testing.B, extraStacks int, driftInterval string) {
	tfBin := testenv.TerraformBinary(b)
	g := testenv.NewGitRepo(b)
	manifest := "stack \"web\" {\n  path = \"infra/web\"\n}\n"
	for i := range extraStacks {
		manifest += fmt.Sprintf("stack \"s%03d\" {\n  path = \"infra/s%03d\"\n}\n", i, i)
		g.Write(fmt.Sprintf("infra/s%03d/main.tf", i), benchWebhookTF(i))
	}
	g.Write("deploy/stacks.hcl", manifest)
	g.Write("infra/web/main.tf", benchWebhookTF(0))
	first := g.Commit("Initial")

	dir := b.TempDir()
	src := fmt.Sprintf(`state_dir = %q
listen    = "127.0.0.1:0"
instance  = "bench"

terraform {
  binary = %q
}

repo "platform" {
  url            = %q
  path           = "deploy"
  interval       = "1h"
  drift_interval = %q
  webhook_secret = %q
}
`, filepath.Join(dir, "state"), tfBin, g.URL(), driftInterval, benchWebhookSecret)
	cfgPath := filepath.Join(dir, "driftless.hcl")
	cfg, err := config.Parse([]byte(src), cfgPath, func(string) string { return "" })
	if err != nil {
		b.Fatalf("config: %v", err)
	}

	logs := &benchLogs{}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := startDaemon(ctx, cfg, logs, slog.LevelInfo) // Info: the plan durations
	if err != nil {
		cancel()
		b.Fatalf("startDaemon: %v\n%s", err, logs)
	}
	done := make(chan error, 1)
	go func() { done <- d.wait() }()
	b.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("daemon stopped with an error: %v", err)
			}
		case <-time.After(30 * time.Second):
			b.Errorf("daemon did not stop within 30s")
		}
	})

	nc, js, err := d.connectNATS(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	type arrival struct {
		typ, rev string
		at       time.Time
	}
	arrivals := make(chan arrival, 64)
	followErr := make(chan error, 1)
	go func() {
		followErr <- notify.Follow(ctx, js, notify.FollowOptions{Follow: true,
			Subjects: []string{"driftless.deploy.started.>", "driftless.deploy.succeeded.>", "driftless.deploy.failed.>"}},
			func(ev notify.Event) error {
				arrivals <- arrival{typ: ev.Category() + "." + ev.Action(), rev: ev.Data.Revision, at: time.Now()}
				return nil
			})
	}()
	// wait returns the arrival time of the event typ at rev.
	wait := func(typ, rev string) time.Time {
		b.Helper()
		timeout := time.After(3 * time.Minute)
		for {
			select {
			case a := <-arrivals:
				if a.typ == "deploy.failed" && a.rev == rev {
					b.Fatalf("deploy.failed at %.7s\nlogs:\n%s", rev, logs)
				}
				if a.typ == typ && a.rev == rev {
					return a.at
				}
			case err := <-followErr:
				b.Fatalf("following the events: %v", err)
			case <-timeout:
				b.Fatalf("no %s at %.7s within 3 minutes\nlogs:\n%s", typ, rev, logs)
			}
		}
	}
	wait("deploy.succeeded", first) // the daemon's first poll deploys it
	if extraStacks > 0 {
		// Every stack deployed, and a whole round of drift scans done:
		// from now on scans run back to back.
		deadline := time.Now().Add(10 * time.Minute)
		for benchDriftScans(b, d.httpAddr) < float64(extraStacks+1) {
			if time.Now().After(deadline) {
				b.Fatalf("no full round of drift scans within 10 minutes\nlogs:\n%s", logs)
			}
			time.Sleep(time.Second)
		}
	}

	hook := "http://" + d.httpAddr + "/hooks/github"
	client := &http.Client{Timeout: 30 * time.Second}
	byHand := benchCloneForFetch(b, g.URL())
	var lat, ctl, plan, fetch []time.Duration
	gen := 0
	for b.Loop() {
		for range benchPushes {
			b.StopTimer()
			gen++
			g.Write("infra/web/main.tf", benchWebhookTF(gen))
			sha := g.Commit(fmt.Sprintf("Change %d (#%d)", gen, gen))
			body, sig := benchPushPayload(b, g.URL(), sha)
			b.StartTimer()
			t0 := time.Now()
			benchPost(b, client, hook, body, sig)
			l := wait("deploy.started", sha).Sub(t0)
			wait("deploy.succeeded", sha)
			b.StopTimer()
			p := benchPlanDuration(b, logs, sha)
			lat, plan, ctl = append(lat, l), append(plan, p), append(ctl, l-p)
			fetch = append(fetch, byHand())
			b.StartTimer()
		}
	}
	for _, s := range [][]time.Duration{lat, ctl, plan, fetch} {
		slices.Sort(s)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(benchPercentile(ctl, 50)), "controller-p50-ms")
	b.ReportMetric(ms(benchPercentile(plan, 50)), "plan-p50-ms")
	b.ReportMetric(ms(benchPercentile(fetch, 50)), "fetch-by-hand-p50-ms")
	b.ReportMetric(ms(benchPercentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(benchPercentile(lat, 99)), "p99-ms")
	b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
	b.ReportMetric(float64(len(lat)), "pushes")
}

// benchCloneForFetch makes a bare clone of url and returns a function that
// times one `git fetch` of its main branch: the by-hand baseline of a
// webhook's poll.
func benchCloneForFetch(b *testing.B, url string) func() time.Duration {
	dir := filepath.Join(b.TempDir(), "by-hand.git")
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Env = testenv.GitEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("clone", "-q", "--bare", "--single-branch", "--branch", "main", url, dir)
	return func() time.Duration {
		t0 := time.Now()
		git("-C", dir, "fetch", "-q", "origin", "+refs/heads/main:refs/heads/main")
		return time.Since(t0)
	}
}

// benchPlanDuration is the duration_ms of the "terraform plan done" log
// line of revision sha.
func benchPlanDuration(b *testing.B, logs *benchLogs, sha string) time.Duration {
	for _, line := range strings.Split(logs.String(), "\n") {
		if !strings.Contains(line, `"terraform plan done"`) || !strings.Contains(line, sha) {
			continue
		}
		var rec struct {
			Revision string `json:"revision"`
			MS       int64  `json:"duration_ms"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Revision == sha {
			return time.Duration(rec.MS) * time.Millisecond
		}
	}
	b.Fatalf("no \"terraform plan done\" log line at %.7s", sha)
	return 0
}

// benchDriftScans is the daemon's driftless_drift_scans_total, all results.
func benchDriftScans(b *testing.B, addr string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var n float64
	for _, l := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(l, "driftless_drift_scans_total{") {
			var v float64
			if _, err := fmt.Sscan(l[strings.LastIndex(l, " ")+1:], &v); err == nil {
				n += v
			}
		}
	}
	return n
}

// benchPercentile is the nearest-rank percentile p of sorted durations.
func benchPercentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 · n)
	return sorted[max(rank, 1)-1]
}

// benchPushPayload is a GitHub push event for sha on main and its
// X-Hub-Signature-256.
func benchPushPayload(b *testing.B, cloneURL, sha string) ([]byte, string) {
	body, err := json.Marshal(map[string]any{
		"ref":        "refs/heads/main",
		"after":      sha,
		"repository": map[string]string{"clone_url": cloneURL},
	})
	if err != nil {
		b.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(benchWebhookSecret))
	mac.Write(body)
	return body, "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func benchPost(b *testing.B, c *http.Client, url string, body []byte, sig string) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-Hub-Signature-256", sig)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatalf("POST /hooks/github: %v", err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(out), "triggered") {
		b.Fatalf("POST /hooks/github: %d %s", resp.StatusCode, out)
	}
}

type benchLogs = testenv.LogBuffer
