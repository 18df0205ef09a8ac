package terraform

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftless/driftless/appliers"
)

// recordedTagPlan is `terraform show -json` (trimmed) of a normal plan of
// an aws_ssm_parameter against moto after `apply -refresh-only` had taken
// in an out-of-band value change and a tag was then added outside: the
// resource_drift lists only the tag, the planned change the value too.
const recordedTagPlan = `{"format_version": "1.2", "resource_changes": [{"address": "aws_ssm_parameter.p", "mode": "managed", "type": "aws_ssm_parameter", "name": "p", "provider_name": "registry.terraform.io/hashicorp/aws", "change": {"actions": ["update"],
 "before": {"allowed_pattern": "", "arn": "arn:aws:ssm:us-east-1:123456789012:parameter/x/param", "data_type": "text", "description": "", "has_value_wo": null, "id": "/x/param", "insecure_value": null, "key_id": "", "name": "/x/param", "overwrite": null, "tags": {"Owner": "bob"}, "tags_all": {"Owner": "bob"}, "tier": "Standard", "type": "String", "value": "CANARY-changed", "value_wo": null, "value_wo_version": null, "version": 2},
 "after": {"allowed_pattern": "", "arn": "arn:aws:ssm:us-east-1:123456789012:parameter/x/param", "data_type": "text", "description": "", "has_value_wo": null, "id": "/x/param", "key_id": "", "name": "/x/param", "overwrite": null, "tags": {}, "tags_all": {}, "tier": "Standard", "type": "String", "value": "v1", "value_wo": null, "value_wo_version": null},
 "after_unknown": {"insecure_value": true, "tags": {}, "tags_all": {}, "version": true},
 "before_sensitive": {"tags": {}, "tags_all": {}, "value": true, "value_wo": true}, "after_sensitive": {"tags": {}, "tags_all": {}, "value": true, "value_wo": true}}}],
 "resource_drift": [{"address": "aws_ssm_parameter.p", "mode": "managed", "type": "aws_ssm_parameter", "name": "p", "provider_name": "registry.terraform.io/hashicorp/aws", "change": {"actions": ["update"],
 "before": {"tags": {}, "tags_all": {}, "value": "CANARY-changed", "version": 2}, "after": {"tags": {"Owner": "bob"}, "tags_all": {"Owner": "bob"}, "value": "CANARY-changed", "version": 2},
 "after_unknown": {}, "before_sensitive": {"value": true}, "after_sensitive": {"value": true}}}]}`

func TestDriftItemsFromRecordedPlan(t *testing.T) {
	var p tfjson.Plan
	if err := json.Unmarshal([]byte(recordedTagPlan), &p); err != nil {
		t.Fatal(err)
	}
	got := driftItems(&p)
	want := []appliers.DriftItem{{Address: "aws_ssm_parameter.p", Action: "update", Attributes: []string{"tags.Owner", "tags_all.Owner", "value"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("driftItems = %+v, want %+v", got, want)
	}
	b, _ := json.Marshal(&appliers.DriftReport{Items: filterDrift(got, nil)})
	mustNotContain(t, "report", string(b), "CANARY-changed", "bob", "v1")
}

func TestChangedPaths(t *testing.T) {
	m := func(kv ...any) map[string]any {
		out := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = kv[i+1]
		}
		return out
	}
	l := func(v ...any) []any { return v }
	tests := []struct {
		name                  string
		before, after         any
		unknown, bsens, asens any
		want                  []string
	}{
		{"equal", m("a", "x", "n", 1.0), m("a", "x", "n", 1.0), nil, nil, nil, nil},
		{"top-level", m("a", "x", "b", "y"), m("a", "z", "b", "y"), nil, nil, nil, []string{"a"}},
		{"unknown after is a consequence", m("value", "x", "version", 2.0), m("value", "y"), m("version", true), nil, nil, []string{"value"}},
		{"nested map keys", m("tags", m("Owner", "bob", "Env", "prod")), m("tags", m("Env", "dev")), nil, nil, nil, []string{"tags.Env", "tags.Owner"}},
		{"null equals empty map", m("tags", nil), m("tags", m()), nil, nil, nil, nil},
		{"null to map lists keys", m("tags", nil), m("tags", m("A", "1")), nil, nil, nil, []string{"tags.A"}},
		{"null equals empty list", m("l", nil), m("l", l()), nil, nil, nil, nil},
		{"empty string is not null", m("d", ""), m("d", nil), nil, nil, nil, []string{"d"}},
		{"single block looked through", m("environment", l(m("variables", m("LOG", "debug")))), m("environment", l(m("variables", m("LOG", "info")))), nil, nil, nil, []string{"environment.variables.LOG"}},
		{"block removed", m("logging", l(m("bucket", "b"))), m("logging", l()), nil, nil, nil, []string{"logging.bucket"}},
		{"long list is one path", m("cidrs", l("a", "b")), m("cidrs", l("b", "a")), nil, nil, nil, []string{"cidrs"}},
		{"sensitive value is one path", m("value", "s1"), m("value", "s2"), nil, m("value", true), m("value", true), []string{"value"}},
		{"sensitive map keys are hidden", m("secrets", m("DB_PASSWORD", "a")), m("secrets", m("DB_PASSWORD", "b", "NEW_KEY", "c")), nil, m("secrets", true), nil, []string{"secrets"}},
		{"sensitive unchanged", m("value", "s"), m("value", "s"), nil, m("value", true), m("value", true), nil},
		{"type change", m("x", "1"), m("x", m("a", "1")), nil, nil, nil, []string{"x"}},
		{"unknown nested", m("o", m("a", "1", "b", "2")), m("o", m("a", "1")), m("o", m("b", true)), nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := changedPaths(tt.before, tt.after, tt.unknown, tt.bsens, tt.asens)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("changedPaths = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDriftItemsActions(t *testing.T) {
	rc := func(addr string, mode tfjson.ResourceMode, before, after any, acts ...tfjson.Action) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, Mode: mode, Change: &tfjson.Change{Actions: acts, Before: before, After: after}}
	}
	obj := func(v string) map[string]any { return map[string]any{"input": v, "id": "1"} }
	p := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		rc("z.noop", tfjson.ManagedResourceMode, obj("a"), obj("a"), tfjson.ActionNoop),
		rc("data.x.y", tfjson.DataResourceMode, nil, obj("a"), tfjson.ActionRead),
		rc("b.created", tfjson.ManagedResourceMode, nil, obj("a"), tfjson.ActionCreate),
		rc("a.updated", tfjson.ManagedResourceMode, obj("a"), obj("b"), tfjson.ActionUpdate),
		rc("c.deleted", tfjson.ManagedResourceMode, obj("a"), nil, tfjson.ActionDelete),
		rc("d.replaced", tfjson.ManagedResourceMode, obj("a"), obj("b"), tfjson.ActionDelete, tfjson.ActionCreate),
		rc("e.forgotten", tfjson.ManagedResourceMode, obj("a"), nil, tfjson.ActionForget),
		{Address: "f.deposed", DeposedKey: "00ab", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionDelete}, Before: obj("a")}},
		{Address: "g.unknown_only", Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionDelete, tfjson.ActionCreate}, Before: obj("a"), After: map[string]any{"input": "a"},
			AfterUnknown: map[string]any{"id": true}, ReplacePaths: []any{[]any{"triggers_replace", 0.0}}}},
	}}
	got := driftItems(p)
	want := []appliers.DriftItem{
		{Address: "a.updated", Action: "update", Attributes: []string{"input"}},
		{Address: "b.created", Action: "create"},
		{Address: "c.deleted", Action: "delete"},
		{Address: "d.replaced", Action: "replace", Attributes: []string{"input"}},
		{Address: "f.deposed (deposed 00ab)", Action: "delete"},
		{Address: "g.unknown_only", Action: "replace", Attributes: []string{"triggers_replace"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("driftItems =\n%+v\nwant\n%+v", got, want)
	}
}

func TestFilterDriftAddresses(t *testing.T) {
	items := []appliers.DriftItem{
		{Address: "module.m.aws_ssm_parameter.p", Action: "update", Attributes: []string{"value", "tags.Owner", "tags_all.Owner"}},
		{Address: "aws_ssm_parameter.p", Action: "update", Attributes: []string{"value"}},
		{Address: "aws_s3_bucket.b", Action: "create"},
	}
	tests := []struct {
		ignore []string
		want   string
	}{
		{nil, "aws_s3_bucket.b create []|aws_ssm_parameter.p update [value]|module.m.aws_ssm_parameter.p update [tags.Owner tags_all.Owner value]"},
		{[]string{"aws_ssm_parameter.p.value"}, "aws_s3_bucket.b create []|module.m.aws_ssm_parameter.p update [tags.Owner tags_all.Owner]"},
		{[]string{"value"}, "aws_s3_bucket.b create []|module.m.aws_ssm_parameter.p update [tags.Owner tags_all.Owner]"},
		{[]string{"module.m.aws_ssm_parameter.p.tags", "Owner"}, "aws_s3_bucket.b create []|aws_ssm_parameter.p update [value]|module.m.aws_ssm_parameter.p update [value]"},
		{[]string{"aws_s3_bucket.b", "module.m"}, "aws_ssm_parameter.p update [value]"},
		{[]string{"aws_ssm_parameter.p"}, "aws_s3_bucket.b create []"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.ignore, ","), func(t *testing.T) {
			var parts []string
			for _, it := range filterDrift(items, tt.ignore) {
				parts = append(parts, it.Address+" "+it.Action+" ["+strings.Join(it.Attributes, " ")+"]")
			}
			if got := strings.Join(parts, "|"); got != tt.want {
				t.Errorf("filterDrift(%v) =\n%s\nwant\n%s", tt.ignore, got, tt.want)
			}
		})
	}
	if items[1].Attributes[0] != "value" || len(items[0].Attributes) != 3 {
		t.Errorf("filterDrift modified its input: %+v", items)
	}
}
