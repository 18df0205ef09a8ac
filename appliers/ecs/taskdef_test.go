package ecs

import (
	"strings"
	"testing"
)

func canon(t *testing.T, js string) string {
	t.Helper()
	in, err := parseTaskDef([]byte(js))
	if err != nil {
		t.Fatalf("parse %s: %v", js, err)
	}
	b, err := canonical(in)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCanonicalEquivalent(t *testing.T) {
	for _, tc := range []struct{ name, a, b string }{
		{"env order",
			`{"family":"f","containerDefinitions":[{"name":"c","image":"i","environment":[{"name":"B","value":"2"},{"name":"A","value":"1"}]}]}`,
			`{"family":"f","containerDefinitions":[{"name":"c","image":"i","environment":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}]}`},
		{"defaults as AWS describes them",
			`{"family":"f","containerDefinitions":[{"name":"c","image":"i","portMappings":[{"containerPort":80}]}]}`,
			`{"family":"f","taskDefinitionArn":"arn:aws:ecs:us-east-1:1:task-definition/f:3","revision":3,"status":"ACTIVE",
			  "compatibilities":["EC2"],"requiresAttributes":[{"name":"x"}],"registeredAt":"2024-01-01T00:00:00Z","registeredBy":"me",
			  "networkMode":"bridge","volumes":[],"placementConstraints":[],
			  "containerDefinitions":[{"name":"c","image":"i","cpu":0,"essential":true,"mountPoints":[],"volumesFrom":[],"environment":[],
			  "portMappings":[{"containerPort":80,"hostPort":0,"protocol":"tcp"}]}]}`},
		{"awsvpc hostPort mirrored",
			`{"family":"f","networkMode":"awsvpc","containerDefinitions":[{"name":"c","image":"i","portMappings":[{"containerPort":80}]}]}`,
			`{"family":"f","networkMode":"awsvpc","containerDefinitions":[{"name":"c","image":"i","portMappings":[{"containerPort":80,"hostPort":80,"protocol":"tcp"}]}]}`},
		{"port, secret, mount order",
			`{"family":"f","containerDefinitions":[{"name":"c","image":"i","portMappings":[{"containerPort":81},{"containerPort":80}],
			  "secrets":[{"name":"Z","valueFrom":"z"},{"name":"Y","valueFrom":"y"}],
			  "mountPoints":[{"sourceVolume":"b","containerPath":"/b"},{"sourceVolume":"a","containerPath":"/a","readOnly":false}]}]}`,
			`{"family":"f","containerDefinitions":[{"name":"c","image":"i","portMappings":[{"containerPort":80},{"containerPort":81}],
			  "secrets":[{"name":"Y","valueFrom":"y"},{"name":"Z","valueFrom":"z"}],
			  "mountPoints":[{"sourceVolume":"a","containerPath":"/a"},{"sourceVolume":"b","containerPath":"/b"}]}]}`},
		{"container order",
			`{"family":"f","containerDefinitions":[{"name":"b","image":"i"},{"name":"a","image":"j"}]}`,
			`{"family":"f","containerDefinitions":[{"name":"a","image":"j"},{"name":"b","image":"i"}]}`},
		{"cpu and memory units",
			`{"family":"f","cpu":"0.5 vCPU","memory":"1 GB","containerDefinitions":[{"name":"c","image":"i"}]}`,
			`{"family":"f","cpu":512,"memory":"1024","containerDefinitions":[{"name":"c","image":"i"}]}`},
		{"health check defaults",
			`{"family":"f","containerDefinitions":[{"name":"c","image":"i","healthCheck":{"command":["CMD","true"]}}]}`,
			`{"family":"f","containerDefinitions":[{"name":"c","image":"i","healthCheck":{"command":["CMD","true"],"interval":30,"timeout":5,"retries":3,"startPeriod":0}}]}`},
		{"tags order",
			`{"family":"f","tags":[{"key":"b","value":"2"},{"key":"a","value":"1"}],"containerDefinitions":[{"name":"c","image":"i"}]}`,
			`{"family":"f","tags":[{"key":"a","value":"1"},{"key":"b","value":"2"}],"containerDefinitions":[{"name":"c","image":"i"}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a, b := canon(t, tc.a), canon(t, tc.b); a != b {
				t.Errorf("not equivalent:\n%s\n%s", a, b)
			}
		})
	}
}

func TestCanonicalDifferent(t *testing.T) {
	base := `{"family":"f","containerDefinitions":[{"name":"c","image":"i","portMappings":[{"containerPort":80}],"environment":[{"name":"A","value":"1"}]}]}`
	for _, tc := range []struct{ name, b, summary string }{
		{"image", strings.Replace(base, `"image":"i"`, `"image":"j"`, 1), "image i → j"},
		{"env value", strings.Replace(base, `"value":"1"`, `"value":"2"`, 1), "container c: environment changed"},
		{"env removed", strings.Replace(base, `,"environment":[{"name":"A","value":"1"}]`, ``, 1), "container c: environment changed"},
		{"essential false", strings.Replace(base, `"image":"i"`, `"image":"i","essential":false`, 1), "container c: essential changed"},
		{"bridge host port", strings.Replace(base, `{"containerPort":80}`, `{"containerPort":80,"hostPort":8080}`, 1), "container c: portMappings changed"},
		{"udp", strings.Replace(base, `{"containerPort":80}`, `{"containerPort":80,"protocol":"udp"}`, 1), "container c: portMappings changed"},
		{"task memory", strings.Replace(base, `"family":"f"`, `"family":"f","memory":"512"`, 1), "memory changed"},
		{"container added", strings.Replace(base, `]}]}`, `]},{"name":"d","image":"k"}]}`, 1), "container d added (k)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := canon(t, base), canon(t, tc.b)
			if a == b {
				t.Fatalf("no difference seen:\n%s", a)
			}
			if got := describeDiff([]byte(a), []byte(b)); got != tc.summary {
				t.Errorf("summary %q, want %q", got, tc.summary)
			}
		})
	}
}

func TestParseTaskDefErrors(t *testing.T) {
	for _, tc := range []struct{ js, want string }{
		{`[]`, "not a JSON object"},
		{`{"containerDefinitions":[{"name":"c","image":"i"}]}`, `"family" is required`},
		{`{"family":"f"}`, "at least one container"},
		{`{"family":"f","containerDefinitions":[{"image":"i"}]}`, "has no name"},
		{`{"family":"f","containerDefinitions":[{"name":"c"},{"name":"c"}]}`, "defined twice"},
		{`{"family":"f","containerDefinitions":[{"name":"c","portMappings":[{"containerPort":"x"}]}]}`, "containerDefinitions.portMappings.containerPort must be a number, not a JSON string"},
	} {
		if _, err := parseTaskDef([]byte(tc.js)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseTaskDef(%s) = %v, want %q", tc.js, err, tc.want)
		}
	}
}

func TestIsRevision(t *testing.T) {
	for ref, want := range map[string]bool{
		"web": false, "web:3": true, "arn:aws:ecs:us-east-1:1:task-definition/web:12": true,
		"arn:aws:ecs:us-east-1:1:task-definition/web": false,
	} {
		if got := isRevision(ref); got != want {
			t.Errorf("isRevision(%q) = %v", ref, got)
		}
	}
}
