package terraform

import (
	"reflect"
	"strings"
	"testing"
)

func TestBuildEnv(t *testing.T) {
	base := []string{
		"PATH=/usr/bin", "HOME=/home/d", "AWS_ACCESS_KEY_ID=AKIA", "AWS_REGION=eu-west-1",
		"TF_PLUGIN_TIMEOUT=5", "TF_CLI_CONFIG_FILE=/nonexistent", "TF_DATA_DIR=/shared",
		"TF_LOG=TRACE", "TF_VAR_password=hunter2", "TF_WORKSPACE=prod", "TF_IN_AUTOMATION=0",
		"DRIFTLESS_API_TOKEN=tok", "SLACK_BOT_TOKEN=xoxb", "GIT_TOKEN=ghp", "LANG=C", "NOEQUALS",
	}
	tests := []struct {
		name        string
		extra       map[string]string
		region, end string
		want        map[string]string
		dropped     []string
	}{
		{
			name: "allow-list only",
			want: map[string]string{
				"PATH": "/usr/bin", "HOME": "/home/d", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_REGION": "eu-west-1",
				"TF_PLUGIN_TIMEOUT": "5", "CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": "/w/terraformrc",
			},
		},
		{
			name:   "aws block and terraform.env",
			extra:  map[string]string{"TF_REGISTRY_CLIENT_TIMEOUT": "20", "AWS_PROFILE": "ops", "TF_LOG": "", "TF_VAR_x": "1", "TF_CLI_CONFIG_FILE": "/theirs"},
			region: "us-east-1", end: "http://127.0.0.1:5000",
			want: map[string]string{
				"PATH": "/usr/bin", "HOME": "/home/d", "AWS_ACCESS_KEY_ID": "AKIA", "AWS_REGION": "us-east-1",
				"AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_PROFILE": "ops",
				"TF_PLUGIN_TIMEOUT": "5", "TF_REGISTRY_CLIENT_TIMEOUT": "20", "CHECKPOINT_DISABLE": "1",
				"TF_CLI_CONFIG_FILE": "/w/terraformrc",
			},
			dropped: []string{"TF_CLI_CONFIG_FILE", "TF_LOG", "TF_VAR_x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, dropped := BuildEnv(base, tt.extra, tt.region, tt.end, "/w/terraformrc")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("env:\n got %v\nwant %v", got, tt.want)
			}
			if !reflect.DeepEqual(dropped, tt.dropped) {
				t.Errorf("dropped = %v, want %v", dropped, tt.dropped)
			}
			for k, v := range got {
				if strings.Contains(v, "tok") || strings.Contains(v, "xoxb") || strings.Contains(v, "ghp") || k == "LANG" {
					t.Errorf("controller variable leaked: %s=%s", k, v)
				}
			}
		})
	}
}

func TestCLIConfig(t *testing.T) {
	tests := []struct {
		name, mirror, cache string
		mirrored            []string
		want                string
	}{
		{name: "no mirror", cache: "/c", want: "# Written by driftless; do not edit.\ndisable_checkpoint = true\nplugin_cache_dir = \"/c\"\n"},
		{name: "mirror", mirror: "/opt/m", cache: "/c", mirrored: []string{"registry.terraform.io/hashicorp/aws"}, want: `# Written by driftless; do not edit.
disable_checkpoint = true
plugin_cache_dir = "/c"
provider_installation {
  filesystem_mirror {
    path    = "/opt/m"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`},
		{name: "empty mirror", mirror: "/opt/m", want: "# Written by driftless; do not edit.\ndisable_checkpoint = true\nprovider_installation {\n  filesystem_mirror {\n    path    = \"/opt/m\"\n  }\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CLIConfig(tt.mirror, tt.mirrored, tt.cache); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestBackendConfigArgs(t *testing.T) {
	got := BackendConfigArgs(map[string]string{"key": "a/b.tfstate", "bucket": "s", "region": "x=y"})
	want := []string{"bucket=s", "key=a/b.tfstate", "region=x=y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
