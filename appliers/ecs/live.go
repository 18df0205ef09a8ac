package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

var _ appliers.LiveReader = (*Applier)(nil)

// Live reads the live values of the drifted paths the ecs_service block can
// express: desired_count (the service's desired count);
// task_definition.containers.NAME.image when the block overrides that
// container's image in images (the value is the image the service runs);
// and, when task_definition names a registered revision ("web:3"), every
// task_definition path, all set by that one attribute to the revision the
// service runs ("web:5"). Every other path (a field of the task
// definition file, environment, secrets) is left out: it is changed by
// hand. Secret values are never read.
func (a *Applier) Live(ctx context.Context, req appliers.Request, paths []string) ([]appliers.LiveValue, error) {
	s, err := specOf(req.Spec)
	if err != nil {
		return nil, fmt.Errorf("ecs_service %s: %w", req.App, err)
	}
	found, err := a.describeServices(ctx, s.Cluster, []string{s.Service})
	if err != nil {
		return nil, fmt.Errorf("ecs_service %s: %w", req.App, err)
	}
	svc := found[s.Service]
	if svc == nil {
		return nil, nil // deleted: nothing to read
	}
	var images map[string]string
	var out []appliers.LiveValue
	for _, p := range paths {
		switch {
		case s.TaskDefinitionRef != "" && (p == "task_definition" || strings.HasPrefix(p, "task_definition.")):
			// The block names a registered revision: the live one replaces it.
			out = append(out, appliers.LiveValue{Path: p, Attribute: "task_definition", Value: cty.StringVal(familyRevision(aws.ToString(svc.TaskDefinition)))})
		case p == "desired_count" && s.DesiredCount != nil:
			out = append(out, appliers.LiveValue{Path: p, Attribute: "desired_count", Value: cty.NumberIntVal(int64(svc.DesiredCount))})
		case strings.HasPrefix(p, "task_definition.containers.") && strings.HasSuffix(p, ".image"):
			name := strings.TrimSuffix(strings.TrimPrefix(p, "task_definition.containers."), ".image")
			if _, ok := s.Images[name]; !ok {
				continue // the image comes from the task definition file
			}
			if images == nil {
				td, err := a.describeTaskDef(ctx, aws.ToString(svc.TaskDefinition))
				if err != nil {
					return nil, fmt.Errorf("ecs_service %s: %w", req.App, err)
				}
				images = containerImages(td.Canonical)
			}
			if img, ok := images[name]; ok {
				out = append(out, appliers.LiveValue{Path: p, Attribute: "images." + name, Value: cty.StringVal(img)})
			}
		}
	}
	return out, nil
}

// containerImages maps container names to images in a canonical task
// definition.
func containerImages(canonical []byte) map[string]string {
	var td map[string]any
	_ = json.Unmarshal(canonical, &td)
	out := map[string]string{}
	for name, c := range containersByName(td) {
		if img, ok := c["Image"].(string); ok {
			out[name] = img
		}
	}
	return out
}
