package appliers

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestIgnoredPath(t *testing.T) {
	for _, tc := range []struct {
		path   string
		ignore []string
		want   bool
	}{
		{"desired_count", nil, false},
		{"desired_count", []string{"desired_count"}, true},
		{"desired_count", []string{"desired"}, false},
		{"desired_count", []string{""}, false},
		{"configuration.environment.LOG_LEVEL", []string{"environment"}, true},
		{"configuration.environment.LOG_LEVEL", []string{"environment.LOG_LEVEL"}, true},
		{"configuration.environment.LOG_LEVEL", []string{"configuration.environment"}, true},
		{"configuration.environment.LOG_LEVEL", []string{"configuration"}, true},
		{"configuration.environment.LOG_LEVEL", []string{"environment.LOG"}, false},
		{"configuration.environment.LOG_LEVEL", []string{"environment.LOG_LEVEL.x"}, false},
		{"configuration.memory_size", []string{"environment"}, false},
		{"task_definition.containers.web.image", []string{"image"}, true},
		{"task_definition.containers.web.image", []string{"task_definition.containers.*.image"}, true},
		{"task_definition.containers.web.image", []string{"containers.api"}, false},
		{"task_definition.containers.web.environment.A", []string{"desired_count", "containers.web.environment"}, true},
		{"aws_ssm_parameter.x.value", []string{"aws_ssm_parameter.x.value"}, true},
		{"aws_ssm_parameter.x.value", []string{"aws_ssm_parameter.y"}, false},
	} {
		if got := IgnoredPath(tc.path, tc.ignore); got != tc.want {
			t.Errorf("IgnoredPath(%q, %q) = %v, want %v", tc.path, tc.ignore, got, tc.want)
		}
	}
}

func TestFilterDrift(t *testing.T) {
	items := []DriftItem{
		{Address: "lambda_function.b", Attributes: []string{"configuration.memory_size", "configuration.environment.A"}, Action: "update"},
		{Address: "ecs_service.a", Attributes: []string{"desired_count"}, Action: "update"},
		{Address: "ecs_service.gone", Action: "create"},
		{Address: "aws_ssm_parameter.p", Attributes: []string{"value", "tags", "value"}, Action: "update"},
	}
	orig, _ := json.Marshal(items)
	for _, tc := range []struct {
		name   string
		ignore []string
		want   []DriftItem
	}{
		{"nothing ignored: sorted and deduplicated", nil, []DriftItem{
			{Address: "aws_ssm_parameter.p", Attributes: []string{"tags", "value"}, Action: "update"},
			{Address: "ecs_service.a", Attributes: []string{"desired_count"}, Action: "update"},
			{Address: "ecs_service.gone", Action: "create"},
			{Address: "lambda_function.b", Attributes: []string{"configuration.environment.A", "configuration.memory_size"}, Action: "update"},
		}},
		{"an item whose attributes are all ignored is dropped; one without attributes is kept", []string{"desired_count", "environment", "tags"}, []DriftItem{
			{Address: "aws_ssm_parameter.p", Attributes: []string{"value"}, Action: "update"},
			{Address: "ecs_service.gone", Action: "create"},
			{Address: "lambda_function.b", Attributes: []string{"configuration.memory_size"}, Action: "update"},
		}},
		{"everything", []string{"desired_count", "configuration", "value", "tags"}, []DriftItem{
			{Address: "ecs_service.gone", Action: "create"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FilterDrift(items, tc.ignore)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("FilterDrift = %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if after, _ := json.Marshal(items); string(after) != string(orig) {
		t.Errorf("FilterDrift modified its input: %s", after)
	}
	if got, _ := json.Marshal(&DriftReport{Items: FilterDrift(nil, nil)}); string(got) != `{"items":[]}` {
		t.Errorf("empty report = %s", got)
	}
}
