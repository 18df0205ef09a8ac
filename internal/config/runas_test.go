package config

import (
	"os/user"
	"strings"
	"testing"
)

const runAsConfig = `repo "r" {
  url = "https://example.com/r.git"
}
terraform {
  run_as = "%s"
}
`

func withEUID(t *testing.T, uid int) {
	t.Helper()
	old := geteuid
	geteuid = func() int { return uid }
	t.Cleanup(func() { geteuid = old })
}

func TestRunAsValidUser(t *testing.T) {
	withEUID(t, 0)
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	cfg, err := Parse([]byte(strings.Replace(runAsConfig, "%s", "nobody", 1)), "/etc/driftless/driftless.hcl", getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Terraform.RunAs
	if r == nil || r.Name != "nobody" || r.Home != u.HomeDir || r.UID == 0 || r.GID == 0 {
		t.Fatalf("RunAs = %+v, want nobody (%s:%s)", r, u.Uid, u.Gid)
	}
	cfg, err = Parse([]byte(`repo "r" { url = "https://example.com/r.git" }`), "/etc/driftless/driftless.hcl", getenv(nil))
	if err != nil || cfg.Terraform.RunAs != nil {
		t.Fatalf("without run_as: %+v, %v", cfg.Terraform.RunAs, err)
	}
}

func TestRunAsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, user string
		euid       int
		want       string
	}{
		{"unknown user", "driftless-no-such-user", 0, `/etc/driftless/driftless.hcl:5:12: Unknown run_as user: user: unknown user driftless-no-such-user.`},
		{"root", "root", 0, `/etc/driftless/driftless.hcl:5:12: Invalid run_as user: run_as must name an unprivileged user; "root" has uid 0, gid 0.`},
		{"not root", "nobody", 1000, `/etc/driftless/driftless.hcl:5:12: run_as needs root: Running Terraform as "nobody" requires driftless to run as root (it runs as uid 1000)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withEUID(t, tc.euid)
			_, err := Parse([]byte(strings.Replace(runAsConfig, "%s", tc.user, 1)), "/etc/driftless/driftless.hcl", getenv(nil))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant prefix %s", err, tc.want)
			}
		})
	}
}
