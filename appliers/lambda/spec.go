package lambda

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/appliers/hclattr"
)

// Defaults applied by Decode when an attribute is absent. Memory and timeout
// default to Lambda's own defaults so that removing the attribute from a
// manifest puts the function back on them.
const (
	DefaultAlias        = "live"
	DefaultStepInterval = time.Minute
	DefaultMemorySize   = 128
	DefaultTimeout      = 3
)

// Code source kinds, as returned by Spec.CodeSource.
const (
	SourceImage = "image"
	SourceZip   = "zip"
	SourceS3    = "s3"
)

// Spec is the decoded desired state of one lambda_function block. It
// marshals to JSON deterministically (struct field order, sorted map keys).
type Spec struct {
	FunctionName    string            `json:"function_name"`
	Role            string            `json:"role"`
	ImageURI        string            `json:"image_uri,omitempty"`
	ZipDir          string            `json:"zip_dir,omitempty"`
	S3Bucket        string            `json:"s3_bucket,omitempty"`
	S3Key           string            `json:"s3_key,omitempty"`
	S3ObjectVersion string            `json:"s3_object_version,omitempty"`
	Runtime         string            `json:"runtime,omitempty"`
	Handler         string            `json:"handler,omitempty"`
	MemorySize      int32             `json:"memory_size"`
	Timeout         int32             `json:"timeout"`
	Environment     map[string]string `json:"environment,omitempty"`
	Description     string            `json:"description,omitempty"`
	Architectures   []string          `json:"architectures,omitempty"` // nil: not managed
	Alias           string            `json:"alias"`
	TrafficSteps    []int             `json:"traffic_steps,omitempty"` // percentages, ending at 100
	StepInterval    time.Duration     `json:"step_interval"`           // nanoseconds
	Alarms          []string          `json:"alarms,omitempty"`
	// Unknown names the attributes whose values were not known when the
	// block was decoded (references to outputs of stacks not applied yet).
	// Plan refuses a spec with unknown attributes.
	Unknown []string `json:"unknown,omitempty"`
}

// Inputs returns zip_dir, the only repository path the function is built from.
func (s *Spec) Inputs() []string {
	if s.ZipDir != "" {
		return []string{s.ZipDir}
	}
	return nil
}

// CodeSource says where the code comes from: SourceImage, SourceZip or SourceS3.
func (s *Spec) CodeSource() string {
	switch {
	case s.ImageURI != "":
		return SourceImage
	case s.ZipDir != "":
		return SourceZip
	case s.S3Bucket != "":
		return SourceS3
	}
	return ""
}

// attributes are the lambda_function attributes; Decode evaluates each
// one itself, in the order its checks need.
var attributes = []hclattr.Attr{
	{Name: "function_name"}, {Name: "role"},
	{Name: "image_uri"}, {Name: "zip_dir"}, {Name: "s3_bucket"}, {Name: "s3_key"}, {Name: "s3_object_version"},
	{Name: "runtime"}, {Name: "handler"}, {Name: "memory_size"}, {Name: "timeout"},
	{Name: "environment"}, {Name: "description"}, {Name: "architectures"},
	{Name: "alias"}, {Name: "traffic_steps"}, {Name: "step_interval"}, {Name: "alarms"},
}

// messages keep the lambda_function wording of type and null errors.
var messages = hclattr.Messages{
	Type: func(name, what string, err error) hclattr.Problem {
		return hclattr.Problem{Summary: "Invalid value", Detail: fmt.Sprintf("%s: %s expected: %v", name, what, err)}
	},
	Null: func(name string) *hclattr.Problem {
		return hclattr.Problemf("Invalid value", "%s must not be null", name)
	},
}

var (
	functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	aliasRE        = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	envKeyRE       = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
	digitsRE       = regexp.MustCompile(`^[0-9]+$`)
)

// decoder is the shared attribute decoder with the lambda_function checks.
type decoder struct {
	*hclattr.Decoder
	dc    appliers.DecodeContext
	attrs hcl.Attributes
}

// value evaluates attribute name converted to typ. ok is false when the
// attribute is absent, unknown or invalid (invalid ones add diagnostics).
func (d *decoder) value(name string, typ cty.Type) (cty.Value, *hcl.Attribute, bool) {
	attr, present := d.attrs[name]
	if !present {
		return cty.NilVal, nil, false
	}
	var v cty.Value
	ok := d.Decode(attr, hclattr.Attr{Name: name, Into: &v, Type: typ})
	return v, attr, ok
}

func (d *decoder) str(name string, dst *string) *hcl.Attribute {
	v, attr, ok := d.value(name, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return attr
}

func (d *decoder) int32(name string, dst *int32, lo, hi int64) {
	v, attr, ok := d.value(name, cty.Number)
	if !ok {
		return
	}
	n, ok := hclattr.WholeNumber(v, lo, hi)
	if !ok {
		d.Errorf(attr.Expr.Range(), "Invalid value", "%s must be a whole number from %d to %d", name, lo, hi)
		return
	}
	*dst = int32(n)
}

func (d *decoder) strings(name string) ([]string, *hcl.Attribute) {
	v, attr, ok := d.value(name, cty.List(cty.String))
	if !ok {
		return nil, attr
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() {
			d.Errorf(attr.Expr.Range(), "Invalid value", "%s must not contain null", name)
			return nil, attr
		}
		out = append(out, e.AsString())
	}
	return out, attr
}

// Decode decodes and validates a lambda_function block body.
func (a *Applier) Decode(dc appliers.DecodeContext, body hcl.Body) (appliers.Spec, hcl.Diagnostics) {
	return decodeSpec(dc, body)
}

func decodeSpec(dc appliers.DecodeContext, body hcl.Body) (*Spec, hcl.Diagnostics) {
	d := &decoder{Decoder: hclattr.New(dc.Eval, messages), dc: dc}
	content := d.Content(body, hclattr.Schema{Attrs: attributes})
	d.attrs = content.Attributes
	s := &Spec{
		FunctionName: dc.App,
		Alias:        DefaultAlias,
		StepInterval: DefaultStepInterval,
		MemorySize:   DefaultMemorySize,
		Timeout:      DefaultTimeout,
	}

	if attr := d.str("function_name", &s.FunctionName); attr != nil && !functionNameRE.MatchString(s.FunctionName) && !d.IsUnknown("function_name") {
		d.Errorf(attr.Expr.Range(), "Invalid function name", "%q: 1 to 64 letters, digits, '-' or '_'", s.FunctionName)
	}
	if attr := d.str("role", &s.Role); attr == nil {
		d.Errorf(dc.Block, "Missing role", "lambda_function %q needs a role (an IAM role ARN)", dc.App)
	} else if s.Role == "" && !d.IsUnknown("role") && !hasErrorAt(d.Diags(), attr) {
		d.Errorf(attr.Expr.Range(), "Invalid role", "role must not be empty")
	}
	d.decodeCode(s)
	d.int32("memory_size", &s.MemorySize, 128, 10240)
	d.int32("timeout", &s.Timeout, 1, 900)
	d.decodeEnvironment(s)
	d.str("description", &s.Description)
	if archs, attr := d.strings("architectures"); attr != nil && archs != nil {
		if len(archs) != 1 || (archs[0] != "x86_64" && archs[0] != "arm64") {
			d.Errorf(attr.Expr.Range(), "Invalid architectures", `architectures must be ["x86_64"] or ["arm64"]`)
		} else {
			s.Architectures = archs
		}
	}
	if attr := d.str("alias", &s.Alias); attr != nil && !d.IsUnknown("alias") &&
		(!aliasRE.MatchString(s.Alias) || digitsRE.MatchString(s.Alias)) {
		d.Errorf(attr.Expr.Range(), "Invalid alias", "%q: 1 to 128 letters, digits, '-' or '_', not all digits", s.Alias)
	}
	d.decodeSteps(s)
	var alarmsAttr *hcl.Attribute
	s.Alarms, alarmsAttr = d.strings("alarms")
	for _, n := range s.Alarms {
		if n == "" {
			d.Errorf(alarmsAttr.Expr.Range(), "Invalid alarms", "alarm names must not be empty")
			break
		}
	}
	if len(s.Alarms) == 0 {
		s.Alarms = nil
	} else if _, steps := content.Attributes["traffic_steps"]; !steps {
		d.Append(&hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Alarms without traffic_steps",
			Detail:  "alarms are checked between traffic_steps only; without traffic_steps the alias moves at once and alarms are not consulted",
			Subject: alarmsAttr.Expr.Range().Ptr()})
	}
	s.Unknown = slices.Sorted(slices.Values(d.Unknown()))
	return s, d.Diags()
}

func hasErrorAt(diags hcl.Diagnostics, attr *hcl.Attribute) bool {
	r := attr.Expr.Range()
	for _, dg := range diags {
		if dg.Severity == hcl.DiagError && dg.Subject != nil && dg.Subject.Overlaps(r) {
			return true
		}
	}
	return false
}

// decodeCode checks that exactly one code source is given and that runtime
// and handler come with zip and S3 code but not with images.
func (d *decoder) decodeCode(s *Spec) {
	image := d.str("image_uri", &s.ImageURI)
	var zipDir string
	zipAttr := d.str("zip_dir", &zipDir)
	bucket := d.str("s3_bucket", &s.S3Bucket)
	key := d.str("s3_key", &s.S3Key)
	version := d.str("s3_object_version", &s.S3ObjectVersion)
	runtime := d.str("runtime", &s.Runtime)
	handler := d.str("handler", &s.Handler)

	var sources []*hcl.Attribute
	for _, a := range []*hcl.Attribute{image, zipAttr, bucket} {
		if a != nil {
			sources = append(sources, a)
		}
	}
	switch {
	case len(sources) == 0 && key == nil:
		d.Errorf(d.dc.Block, "Missing code source", "lambda_function %q needs exactly one of image_uri, zip_dir, or s3_bucket with s3_key", d.dc.App)
	case len(sources) > 1:
		d.Errorf(sources[1].NameRange, "Conflicting code sources", "%s and %s are both set; give exactly one of image_uri, zip_dir, s3_bucket", sources[0].Name, sources[1].Name)
	}
	if bucket != nil && key == nil {
		d.Errorf(bucket.NameRange, "Missing s3_key", "s3_bucket needs s3_key")
	}
	if key != nil && bucket == nil {
		d.Errorf(key.NameRange, "Missing s3_bucket", "s3_key needs s3_bucket")
	}
	if version != nil && bucket == nil {
		d.Errorf(version.NameRange, "Missing s3_bucket", "s3_object_version needs s3_bucket and s3_key")
	}
	for _, a := range []*hcl.Attribute{image, zipAttr, bucket, key, version, runtime, handler} {
		if a != nil && !d.IsUnknown(a.Name) && !hasErrorAt(d.Diags(), a) && d.emptyString(a) {
			d.Errorf(a.Expr.Range(), "Invalid value", "%s must not be empty", a.Name)
		}
	}
	if zipAttr != nil && !d.IsUnknown("zip_dir") && zipDir != "" {
		if d.dc.Tree == nil {
			d.Errorf(zipAttr.Expr.Range(), "Unreadable path", "no repository tree to read %q from", zipDir)
		} else {
			c, diags := appliers.CheckPath(d.dc.Tree, zipDir, appliers.DirPath, zipAttr.Expr.Range())
			d.Append(diags...)
			s.ZipDir = c
		}
	}
	if image != nil {
		for _, a := range []*hcl.Attribute{runtime, handler} {
			if a != nil {
				d.Errorf(a.NameRange, "Unsupported argument", "%s is not used with image_uri: the image sets its own entry point", a.Name)
			}
		}
		return
	}
	if zipAttr != nil || bucket != nil {
		if runtime == nil {
			d.Errorf(d.dc.Block, "Missing runtime", "lambda_function %q with zip or S3 code needs runtime (e.g. \"nodejs20.x\")", d.dc.App)
		}
		if handler == nil {
			d.Errorf(d.dc.Block, "Missing handler", "lambda_function %q with zip or S3 code needs handler (e.g. \"index.handler\")", d.dc.App)
		}
	}
}

func (d *decoder) emptyString(a *hcl.Attribute) bool {
	v, diags := a.Expr.Value(d.dc.Eval)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() {
		return false
	}
	if cv, err := convert.Convert(v, cty.String); err == nil {
		return cv.AsString() == ""
	}
	return false
}

func (d *decoder) decodeEnvironment(s *Spec) {
	v, attr, ok := d.value("environment", cty.Map(cty.String))
	if !ok {
		return
	}
	env := map[string]string{}
	for k, e := range v.AsValueMap() {
		if e.IsNull() {
			d.Errorf(attr.Expr.Range(), "Invalid environment", "environment variable %s is null", k)
			continue
		}
		if !envKeyRE.MatchString(k) {
			d.Errorf(attr.Expr.Range(), "Invalid environment", "%q is not a valid environment variable name", k)
			continue
		}
		env[k] = e.AsString()
	}
	if len(env) > 0 {
		s.Environment = env
	}
}

// decodeSteps validates traffic_steps (strictly increasing whole
// percentages from 1 to 100, ending at 100), pointing at the offending
// element where the list is written out literally, and step_interval.
func (d *decoder) decodeSteps(s *Spec) {
	if attr, ok := d.attrs["traffic_steps"]; ok {
		elems, ldiags := hcl.ExprList(attr.Expr)
		if ldiags.HasErrors() {
			elems = nil // not a literal list: evaluate the whole value
		}
		v, _, ok := d.value("traffic_steps", cty.List(cty.Number))
		if ok {
			d.checkSteps(s, attr, v, elems)
		}
	}
	var iv string
	if attr := d.str("step_interval", &iv); attr != nil && !d.IsUnknown("step_interval") && !hasErrorAt(d.Diags(), attr) {
		dur, err := time.ParseDuration(iv)
		switch {
		case err != nil:
			d.Errorf(attr.Expr.Range(), "Invalid step_interval", "%q is not a duration (e.g. \"2m\", \"30s\")", iv)
		case dur <= 0:
			d.Errorf(attr.Expr.Range(), "Invalid step_interval", "step_interval must be positive")
		default:
			s.StepInterval = dur
		}
	}
}

func (d *decoder) checkSteps(s *Spec, attr *hcl.Attribute, v cty.Value, elems []hcl.Expression) {
	vals := v.AsValueSlice()
	if len(vals) == 0 {
		d.Errorf(attr.Expr.Range(), "Invalid traffic_steps", "traffic_steps must not be empty; omit it to move the alias at once")
		return
	}
	at := func(i int) hcl.Range {
		if len(elems) == len(vals) {
			return elems[i].Range()
		}
		return attr.Expr.Range()
	}
	steps := make([]int, 0, len(vals))
	prev := 0
	for i, e := range vals {
		if e.IsNull() {
			d.Errorf(at(i), "Invalid traffic_steps", "step %d is null", i+1)
			return
		}
		n, acc := e.AsBigFloat().Int64()
		if acc != big.Exact || n < 1 || n > 100 {
			d.Errorf(at(i), "Invalid traffic_steps", "step %d: %s is not a whole percentage from 1 to 100", i+1, e.AsBigFloat().Text('g', -1))
			return
		}
		if int(n) <= prev {
			d.Errorf(at(i), "Invalid traffic_steps", "step %d: %d%% does not increase on the step before (%d%%)", i+1, n, prev)
			return
		}
		prev = int(n)
		steps = append(steps, int(n))
	}
	if prev != 100 {
		d.Errorf(at(len(vals)-1), "Invalid traffic_steps", "traffic_steps must end at 100, not %d", prev)
		return
	}
	s.TrafficSteps = steps
}
