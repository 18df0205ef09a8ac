package config

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNATSEmbeddedSettings(t *testing.T) {
	src := `nats {
  sync_interval = "2m"
  listen        = "127.0.0.1:4222"
  user          = "tools"
  password      = env("NATS_PW")
}
` + okRepo
	cfg, err := Parse([]byte(src), "f.hcl", getenv(map[string]string{"NATS_PW": "natspw-123"}))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.NATS
	if n.SyncInterval != 2*time.Minute || n.Listen != "127.0.0.1:4222" || n.User != "tools" || n.Password.Value() != "natspw-123" || n.Token.IsSet() {
		t.Errorf("nats = %+v", n)
	}

	cfg, err = Parse([]byte("nats {\n  listen = \"127.0.0.1:0\"\n  token = \"natspw-tok\"\n  sync_interval = \"0\"\n}\n"+okRepo), "f.hcl", getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATS.Token.Value() != "natspw-tok" || cfg.NATS.SyncInterval != 0 {
		t.Errorf("nats = %+v", cfg.NATS)
	}
}

func TestNATSErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string
	}{
		{"bad sync_interval", "nats {\n  sync_interval = \"often\"\n}\n", []string{`f.hcl:2:19: Invalid duration: "often" is not a duration for "sync_interval"`}},
		{"negative sync_interval", "nats {\n  sync_interval = \"-1s\"\n}\n", []string{`f.hcl:2:19: Invalid duration: "sync_interval" must be at least 1ms`}},
		{"listen without credentials", "nats {\n  listen = \"127.0.0.1:4222\"\n}\n", []string{`f.hcl:2:12: Listener without credentials: listen opens a TCP port`}},
		{"listen with unset password", "nats {\n  listen = \"127.0.0.1:4222\"\n  password = env(\"UNSET\")\n}\n", []string{`f.hcl:2:12: Listener without credentials`}},
		{"bad nats listen", "nats {\n  listen = \"4222\"\n  token = \"natspw\"\n}\n", []string{`f.hcl:2:12: Invalid listen address: "4222" is not host:port.`}},
		{"user without password", "nats {\n  listen = \"127.0.0.1:4222\"\n  user = \"u\"\n}\n", []string{`f.hcl:3:10: Missing password`}},
		{"password without user", "nats {\n  listen = \"127.0.0.1:4222\"\n  password = \"natspw\"\n}\n", []string{`f.hcl:3:14: Missing user`}},
		{"token and user", "nats {\n  listen = \"127.0.0.1:4222\"\n  user = \"u\"\n  password = \"natspw\"\n  token = \"natspw2\"\n}\n", []string{`f.hcl:5:11: Conflicting credentials`}},
		{"credentials without listen", "nats {\n  token = \"natspw\"\n}\n", []string{`f.hcl:1:1: Credentials without listen`}},
		{"embedded settings with url", "nats {\n  url = \"nats://h:4222\"\n  sync_interval = \"1s\"\n  listen = \"127.0.0.1:4222\"\n}\n", []string{
			`f.hcl:3:3: Setting of the embedded server: "sync_interval" configures the embedded NATS server`,
			`f.hcl:4:3: Setting of the embedded server: "listen"`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src+okRepo), "f.hcl", getenv(nil))
			var de *DiagnosticsError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want *DiagnosticsError", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d:\n got %s\nwant prefix %s", i, lines[i], w)
				}
			}
			if strings.Contains(err.Error(), "natspw") {
				t.Errorf("error leaks a NATS secret: %s", err)
			}
		})
	}
}

var instanceSuffixRE = regexp.MustCompile(`-[0-9a-f]{6}$`)

func TestDefaultInstanceDiffersPerLoad(t *testing.T) {
	p := writeConfig(t, okRepo)
	a, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if a.Instance == b.Instance {
		t.Errorf("two loads share instance %q", a.Instance)
	}
	for _, c := range []*Config{a, b} {
		if !instanceSuffixRE.MatchString(c.Instance) || !instanceRE.MatchString(c.Instance) {
			t.Errorf("instance %q is not <hostname>-<6 hex>", c.Instance)
		}
	}
	if a.Holder() == b.Holder() {
		t.Errorf("two loads share holder %q", a.Holder())
	}
}

func TestHolderWithExplicitInstance(t *testing.T) {
	src := "instance = \"web-1\"\n" + okRepo
	a, err := Parse([]byte(src), "f.hcl", getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse([]byte(src), "f.hcl", getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if a.Instance != "web-1" || b.Instance != "web-1" {
		t.Fatalf("instance = %q, %q: an explicit name is kept", a.Instance, b.Instance)
	}
	pid := strconv.Itoa(os.Getpid())
	want := regexp.MustCompile(`^web-1/` + pid + `-[0-9a-f]{8}$`)
	for _, h := range []string{a.Holder(), b.Holder()} {
		if !want.MatchString(h) {
			t.Errorf("holder %q does not match %s", h, want)
		}
	}
	if a.Holder() != a.Holder() || a.Holder() == b.Holder() {
		t.Errorf("holders %q, %q: want stable per Config, distinct between Configs", a.Holder(), b.Holder())
	}
	lit := &Config{Instance: "x"}
	if h := lit.Holder(); !strings.HasPrefix(h, "x/"+pid+"-") || h != lit.Holder() {
		t.Errorf("holder of a literal Config = %q", h)
	}
}

func TestHostPart(t *testing.T) {
	for in, want := range map[string]string{
		"vm":                    "vm",
		"_odd host!":            "odd-host-",
		"":                      "driftless",
		strings.Repeat("h", 80): strings.Repeat("h", maxHostPart),
	} {
		if got := hostPart(in); got != want {
			t.Errorf("hostPart(%q) = %q, want %q", in, got, want)
		}
		if got := hostPart(in) + "-abcdef"; !instanceRE.MatchString(got) {
			t.Errorf("%q is not a valid instance", got)
		}
	}
}
