package lambda

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/zclconf/go-cty/cty"

	"github.com/driftless/driftless/appliers"
)

var _ appliers.LiveReader = (*Applier)(nil)

// Live reads, with one GetFunctionConfiguration of $LATEST, the live values
// of the drifted configuration paths: configuration.runtime, handler,
// role, memory_size, timeout and description map to the block attributes
// of the same name, configuration.environment.VAR to environment.VAR (a
// null value when the variable was removed). code and alias.NAME are left
// out: they are changed by hand (or by a deploy).
func (a *Applier) Live(ctx context.Context, req appliers.Request, paths []string) ([]appliers.LiveValue, error) {
	s, err := specOf(req)
	if err != nil {
		return nil, err
	}
	cfg, err := a.api.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(s.FunctionName)})
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap(err, "lambda_function %s: get function configuration %s", req.App, s.FunctionName)
	}
	var env map[string]string
	if cfg.Environment != nil {
		env = cfg.Environment.Variables
	}
	var out []appliers.LiveValue
	add := func(p, attr string, v cty.Value) {
		out = append(out, appliers.LiveValue{Path: p, Attribute: attr, Value: v})
	}
	for _, p := range paths {
		attr, ok := strings.CutPrefix(p, "configuration.")
		if !ok {
			continue
		}
		switch attr {
		case "runtime":
			add(p, attr, cty.StringVal(string(cfg.Runtime)))
		case "handler":
			add(p, attr, cty.StringVal(aws.ToString(cfg.Handler)))
		case "role":
			add(p, attr, cty.StringVal(aws.ToString(cfg.Role)))
		case "description":
			add(p, attr, cty.StringVal(aws.ToString(cfg.Description)))
		case "memory_size":
			add(p, attr, cty.NumberIntVal(int64(aws.ToInt32(cfg.MemorySize))))
		case "timeout":
			add(p, attr, cty.NumberIntVal(int64(aws.ToInt32(cfg.Timeout))))
		default:
			name, ok := strings.CutPrefix(attr, "environment.")
			if !ok {
				continue
			}
			if v, ok := env[name]; ok {
				add(p, attr, cty.StringVal(v))
			} else {
				add(p, attr, cty.NullVal(cty.String))
			}
		}
	}
	return out, nil
}
