package lambda

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/driftless/driftless/appliers"
)

// liveState is what Plan read of the function; it is part of the plan ID.
type liveState struct {
	Exists       bool               `json:"exists"`
	FunctionArn  string             `json:"function_arn,omitempty"`
	CodeSha256   string             `json:"code_sha256,omitempty"`
	ImageURI     string             `json:"image_uri,omitempty"`
	RevisionID   string             `json:"revision_id,omitempty"`
	Config       string             `json:"config,omitempty"` // hash of the compared configuration
	SourceTag    string             `json:"source_tag,omitempty"`
	SHATag       string             `json:"sha_tag,omitempty"`
	AliasExists  bool               `json:"alias_exists"`
	AliasVersion string             `json:"alias_version,omitempty"`
	AliasWeights map[string]float64 `json:"alias_weights,omitempty"`
}

// artifact is the applier-private part of a Plan: what Apply carries out.
type artifact struct {
	spec    *Spec
	zip     []byte // zip_dir archive
	codeSHA string // base64 SHA-256 of zip, for zip_dir
	live    liveState
	create  bool // the function does not exist
	code    bool // update code (or architectures)
	config  bool // update configuration
	alias   bool // move (or create) the alias
}

// desiredCode is the zip when the code comes from zip_dir.
type desiredCode struct {
	zip []byte
	sha string
}

// Plan compares the function, its code and its alias with the spec.
func (a *Applier) Plan(ctx context.Context, req appliers.Request) (*appliers.Plan, error) {
	plan, _, err := a.plan(ctx, req)
	return plan, err
}

func specOf(req appliers.Request) (*Spec, error) {
	s, ok := req.Spec.(*Spec)
	if !ok || s == nil {
		return nil, appliers.Stalled(fmt.Errorf("lambda_function %s: spec is %T, not *lambda.Spec", req.App, req.Spec))
	}
	if len(s.Unknown) > 0 {
		return nil, appliers.Stalled(fmt.Errorf("lambda_function %s: %s not known yet (an output it references has no value)", req.App, strings.Join(s.Unknown, ", ")))
	}
	return s, nil
}

func (a *Applier) plan(ctx context.Context, req appliers.Request) (*appliers.Plan, *artifact, error) {
	s, err := specOf(req)
	if err != nil {
		return nil, nil, err
	}
	code, err := desiredCodeOf(req, s)
	if err != nil {
		return nil, nil, err
	}
	art := &artifact{spec: s, zip: code.zip, codeSHA: code.sha}
	seen, err := a.observe(ctx, req, s, code, false)
	if err != nil {
		return nil, nil, err
	}
	art.live = seen.live
	var changes []appliers.Change
	var summary []string
	addr := Kind + "." + req.App
	aliasAddr := addr + ".alias." + s.Alias
	if !seen.live.Exists {
		art.create, art.alias = true, true
		changes = append(changes,
			appliers.Change{Address: addr, Action: "create"},
			appliers.Change{Address: aliasAddr, Action: "create"})
		summary = append(summary, fmt.Sprintf("create function %s from %s", s.FunctionName, describeCode(s, art.codeSHA)),
			fmt.Sprintf("create alias %s on the first version", s.Alias))
		return a.finish(req, art, changes, summary)
	}
	if seen.codeWhy != "" {
		art.code = true
		changes = append(changes, appliers.Change{Address: addr + ".code", Action: "update"})
		summary = append(summary, "update code: "+seen.codeWhy)
	}
	if len(seen.config) > 0 {
		art.config = true
		changes = append(changes, appliers.Change{Address: addr + ".configuration", Action: "update"})
		summary = append(summary, "update configuration: "+strings.Join(diffTexts(seen.config), ", "))
	}
	if !seen.live.AliasExists {
		art.alias = true
		changes = append(changes, appliers.Change{Address: aliasAddr, Action: "create"})
		summary = append(summary, fmt.Sprintf("create alias %s", s.Alias))
		return a.finish(req, art, changes, summary)
	}
	why := seen.aliasWhy
	if art.code || art.config {
		why = fmt.Sprintf("from version %s to the new version%s", art.live.AliasVersion, stepsText(s))
	}
	if why != "" {
		art.alias = true
		changes = append(changes, appliers.Change{Address: aliasAddr, Action: "update"})
		summary = append(summary, fmt.Sprintf("move alias %s %s", s.Alias, why))
	}
	if len(changes) == 0 {
		summary = append(summary, fmt.Sprintf("function %s is up to date (alias %s on version %s)", s.FunctionName, s.Alias, art.live.AliasVersion))
	}
	return a.finish(req, art, changes, summary)
}

// observation is what Plan and Drift read of a function and how it differs
// from the spec: one comparison shared by both.
type observation struct {
	live    liveState  // Exists false: the function does not exist
	codeWhy string     // why $LATEST's code differs from the spec; "" it does not
	config  []attrDiff // configuration attributes of $LATEST that differ
	// aliasWhy says why the alias (which exists: live.AliasExists) needs
	// moving for a reason of its own — routing weights, $LATEST, or a
	// version that does not match the spec; "" when it does not, or when
	// the check was skipped (see observe).
	aliasWhy string
}

// observe reads the function, its alias and the version the alias points
// at, and compares them with s. When code or configuration differ the
// planner moves the alias anyway, so unless aliasAlways is set the
// version's check (one more call) is skipped then. It changes nothing.
func (a *Applier) observe(ctx context.Context, req appliers.Request, s *Spec, code desiredCode, aliasAlways bool) (*observation, error) {
	o := &observation{}
	fn, err := a.api.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(s.FunctionName)})
	switch {
	case isNotFound(err):
		return o, nil
	case err != nil:
		return nil, wrap(err, "lambda_function %s: get function %s", req.App, s.FunctionName)
	}
	cfg := fn.Configuration
	if cfg == nil {
		return nil, fmt.Errorf("lambda_function %s: get function %s: no configuration in the answer", req.App, s.FunctionName)
	}
	o.live = liveState{
		Exists:      true,
		FunctionArn: aws.ToString(cfg.FunctionArn),
		CodeSha256:  aws.ToString(cfg.CodeSha256),
		RevisionID:  aws.ToString(cfg.RevisionId),
		SourceTag:   fn.Tags[TagCodeSource],
		SHATag:      fn.Tags[TagCodeSHA],
		Config:      configHash(cfg),
	}
	if fn.Code != nil {
		o.live.ImageURI = aws.ToString(fn.Code.ImageUri)
	}
	if err := checkPackageType(s, cfg.PackageType); err != nil {
		return nil, appliers.Stalled(fmt.Errorf("lambda_function %s: %w", req.App, err))
	}
	o.codeWhy = codeDiff(s, code, cfg, fn.Code, fn.Tags)
	o.config = configDiffs(s, cfg)

	al, err := a.api.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String(s.FunctionName), Name: aws.String(s.Alias)})
	switch {
	case isNotFound(err):
		return o, nil
	case err != nil:
		return nil, wrap(err, "lambda_function %s: get alias %s", req.App, s.Alias)
	}
	o.live.AliasExists = true
	o.live.AliasVersion = aws.ToString(al.FunctionVersion)
	if al.RoutingConfig != nil && len(al.RoutingConfig.AdditionalVersionWeights) > 0 {
		o.live.AliasWeights = al.RoutingConfig.AdditionalVersionWeights
	}
	latestMatches := o.codeWhy == "" && len(o.config) == 0
	switch {
	case !latestMatches && !aliasAlways:
	case len(o.live.AliasWeights) > 0:
		o.aliasWhy = fmt.Sprintf("clear the routing weights left on it (%s)", weightsText(o.live.AliasWeights))
	case o.live.AliasVersion == "$LATEST":
		o.aliasWhy = "from $LATEST to a published version"
	default:
		v, err := a.api.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(s.FunctionName), Qualifier: aws.String(o.live.AliasVersion)})
		if err != nil {
			return nil, wrap(err, "lambda_function %s: get version %s", req.App, o.live.AliasVersion)
		}
		vcfg := configOf(v)
		if !versionCodeMatches(s, code, cfg, o.codeWhy == "", fn.Tags, vcfg) || len(configDiffs(s, vcfg)) > 0 {
			o.aliasWhy = fmt.Sprintf("from version %s, which does not match the desired code and configuration, to a version that does%s", o.live.AliasVersion, stepsText(s))
		}
	}
	return o, nil
}

// versionCodeMatches says whether the code of a published version v is
// the desired code. When $LATEST's code (latest) is the desired code, v's
// is when its CodeSha256 and architectures are $LATEST's (a version's own
// Code.ImageUri is not trusted: moto reports $LATEST's for every version).
// Otherwise (only Drift asks then) v is compared with the desired code
// itself where that can be told from its configuration: the zip's SHA-256,
// or the SHA-256 the S3 deploy recorded in its tag; an image version's
// code cannot, and counts as matching.
func versionCodeMatches(s *Spec, want desiredCode, latest *types.FunctionConfiguration, latestMatches bool, tags map[string]string, v *types.FunctionConfiguration) bool {
	sha := aws.ToString(v.CodeSha256)
	if latestMatches {
		return sha == aws.ToString(latest.CodeSha256) && slices.Equal(archStrings(v.Architectures), archStrings(latest.Architectures))
	}
	switch s.CodeSource() {
	case SourceZip:
		return codeDiff(s, want, v, nil, nil) == ""
	case SourceS3:
		return sha == tags[TagCodeSHA]
	}
	return true
}

// desiredCodeOf zips zip_dir from the request's tree; empty for other
// code sources.
func desiredCodeOf(req appliers.Request, s *Spec) (desiredCode, error) {
	if s.CodeSource() != SourceZip {
		return desiredCode{}, nil
	}
	if req.Tree == nil {
		return desiredCode{}, appliers.Stalled(fmt.Errorf("lambda_function %s: no repository tree to zip %s from", req.App, s.ZipDir))
	}
	zip, sha, err := ZipDir(req.Tree, s.ZipDir)
	if err != nil {
		return desiredCode{}, appliers.Stalled(fmt.Errorf("lambda_function %s: %w", req.App, err))
	}
	return desiredCode{zip: zip, sha: sha}, nil
}

func (a *Applier) finish(req appliers.Request, art *artifact, changes []appliers.Change, summary []string) (*appliers.Plan, *artifact, error) {
	id, err := planID(art)
	if err != nil {
		return nil, nil, fmt.Errorf("lambda_function %s: plan id: %w", req.App, err)
	}
	return &appliers.Plan{
		Changed:  len(changes) > 0,
		Summary:  strings.Join(summary, "; "),
		Changes:  changes,
		ID:       id,
		Artifact: art,
	}, art, nil
}

// planID hashes the desired state, the local code hash and the live state.
func planID(art *artifact) (string, error) {
	b, err := json.Marshal(struct {
		Spec    *Spec     `json:"spec"`
		CodeSHA string    `json:"code_sha256,omitempty"`
		Live    liveState `json:"live"`
	}{art.spec, art.codeSHA, art.live})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func checkPackageType(s *Spec, pt types.PackageType) error {
	want := types.PackageTypeZip
	if s.CodeSource() == SourceImage {
		want = types.PackageTypeImage
	}
	if pt == "" {
		pt = types.PackageTypeZip
	}
	if pt != want {
		return fmt.Errorf("function %s has package type %s and the manifest asks for %s code; Lambda cannot change a function's package type: delete the function or use another function_name", s.FunctionName, pt, want)
	}
	return nil
}

// s3Source is the value of TagCodeSource for an S3 spec.
func s3Source(s *Spec) string {
	src := "s3://" + s.S3Bucket + "/" + s.S3Key
	if s.S3ObjectVersion != "" {
		src += "?versionId=" + s.S3ObjectVersion
	}
	return src
}

// codeDiff says why the code of cfg (the function, or one of its versions)
// differs from the desired code, or "" when it does not.
//
// Zip code compares the local archive's SHA-256 with CodeSha256. Images
// compare the image URI as written. S3 code cannot be hashed without
// reading the object, so the applier tags the function with the S3 source
// it deployed and the CodeSha256 that produced; the code differs when the
// source differs or CodeSha256 no longer matches the tag. Pushing new
// content to the same S3 key is therefore not noticed: give each build its
// own key or s3_object_version.
func codeDiff(s *Spec, want desiredCode, cfg *types.FunctionConfiguration, code *types.FunctionCodeLocation, tags map[string]string) string {
	live := aws.ToString(cfg.CodeSha256)
	var why string
	switch s.CodeSource() {
	case SourceZip:
		if live != want.sha {
			why = fmt.Sprintf("%s sha256 %s → %s", s.ZipDir, short(live), short(want.sha))
		}
	case SourceImage:
		img := ""
		if code != nil {
			img = aws.ToString(code.ImageUri)
		}
		if img != s.ImageURI {
			why = fmt.Sprintf("image %s → %s", orNone(img), s.ImageURI)
		}
	case SourceS3:
		switch src := tags[TagCodeSource]; {
		case src != s3Source(s):
			why = fmt.Sprintf("%s → %s", orNone(src), s3Source(s))
		case tags[TagCodeSHA] != live:
			why = fmt.Sprintf("code sha256 %s was changed outside driftless (deployed %s from %s)", short(live), short(tags[TagCodeSHA]), src)
		}
	}
	if why == "" && s.Architectures != nil && !slices.Equal(archStrings(cfg.Architectures), s.Architectures) {
		why = fmt.Sprintf("architectures %v → %v", archStrings(cfg.Architectures), s.Architectures)
	}
	return why
}

func archStrings(as []types.Architecture) []string {
	if len(as) == 0 {
		return []string{string(types.ArchitectureX8664)}
	}
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = string(a)
	}
	return out
}

// attrDiff is one configuration attribute that differs from the spec.
type attrDiff struct {
	attr string   // runtime, handler, role, memory_size, timeout, environment, description
	vars []string // environment: the names of the variables added, removed or changed
	text string   // for people; never an environment value
}

// configDiffs lists the configuration attributes of cfg that differ from
// the spec. Environment values are not shown, only the names that changed.
func configDiffs(s *Spec, cfg *types.FunctionConfiguration) []attrDiff {
	var d []attrDiff
	str := func(name, live, want string) {
		if live != want {
			d = append(d, attrDiff{attr: name, text: fmt.Sprintf("%s %s → %s", name, orNone(live), orNone(want))})
		}
	}
	if s.CodeSource() != SourceImage {
		str("runtime", string(cfg.Runtime), s.Runtime)
		str("handler", aws.ToString(cfg.Handler), s.Handler)
	}
	str("role", aws.ToString(cfg.Role), s.Role)
	if m := aws.ToInt32(cfg.MemorySize); m != s.MemorySize {
		d = append(d, attrDiff{attr: "memory_size", text: fmt.Sprintf("memory_size %d → %d", m, s.MemorySize)})
	}
	if t := aws.ToInt32(cfg.Timeout); t != s.Timeout {
		d = append(d, attrDiff{attr: "timeout", text: fmt.Sprintf("timeout %d → %d", t, s.Timeout)})
	}
	var liveEnv map[string]string
	if cfg.Environment != nil {
		liveEnv = cfg.Environment.Variables
	}
	if names, texts := envDiff(liveEnv, s.Environment); len(names) > 0 {
		d = append(d, attrDiff{attr: "environment", vars: names, text: "environment (" + strings.Join(texts, ", ") + ")"})
	}
	if aws.ToString(cfg.Description) != s.Description {
		d = append(d, attrDiff{attr: "description", text: "description"})
	}
	return d
}

func diffTexts(d []attrDiff) []string {
	out := make([]string, len(d))
	for i, a := range d {
		out[i] = a.text
	}
	return out
}

// envDiff names the variables added, removed or changed (names), and says
// how for people (texts: "NAME added"); nil and empty maps are equal.
func envDiff(live, want map[string]string) (names, texts []string) {
	for _, k := range slices.Sorted(maps.Keys(want)) {
		lv, ok := live[k]
		switch {
		case !ok:
			names, texts = append(names, k), append(texts, k+" added")
		case lv != want[k]:
			names, texts = append(names, k), append(texts, k+" changed")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(live)) {
		if _, ok := want[k]; !ok {
			names, texts = append(names, k), append(texts, k+" removed")
		}
	}
	return names, texts
}

func describeCode(s *Spec, sha string) string {
	switch s.CodeSource() {
	case SourceZip:
		return fmt.Sprintf("%s (sha256 %s)", s.ZipDir, short(sha))
	case SourceImage:
		return "image " + s.ImageURI
	default:
		return s3Source(s)
	}
}

func stepsText(s *Spec) string {
	if len(s.TrafficSteps) == 0 || (len(s.TrafficSteps) == 1 && s.TrafficSteps[0] == 100) {
		return ""
	}
	parts := make([]string, len(s.TrafficSteps))
	for i, p := range s.TrafficSteps {
		parts[i] = fmt.Sprintf("%d%%", p)
	}
	return fmt.Sprintf(" in steps of %s every %s", strings.Join(parts, ", "), s.StepInterval)
}

func weightsText(w map[string]float64) string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("version %s at %g%%", k, w[k]*100)
	}
	return strings.Join(parts, ", ")
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return orNone(sha)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// configOf copies what Plan compares out of a GetFunctionConfiguration answer.
func configOf(v *lambda.GetFunctionConfigurationOutput) *types.FunctionConfiguration {
	return &types.FunctionConfiguration{
		Architectures: v.Architectures,
		CodeSha256:    v.CodeSha256,
		Description:   v.Description,
		Environment:   v.Environment,
		Handler:       v.Handler,
		MemorySize:    v.MemorySize,
		PackageType:   v.PackageType,
		Role:          v.Role,
		Runtime:       v.Runtime,
		Timeout:       v.Timeout,
		Version:       v.Version,
	}
}

// configHash fingerprints the configuration Plan compares, for the plan ID
// (environment values are hashed, never kept).
func configHash(cfg *types.FunctionConfiguration) string {
	var env map[string]string
	if cfg.Environment != nil {
		env = cfg.Environment.Variables
	}
	b, _ := json.Marshal(struct {
		PackageType, Runtime, Handler, Role, Description string
		MemorySize, Timeout                              int32
		Environment                                      map[string]string
		Architectures                                    []string
	}{string(cfg.PackageType), string(cfg.Runtime), aws.ToString(cfg.Handler), aws.ToString(cfg.Role), aws.ToString(cfg.Description),
		aws.ToInt32(cfg.MemorySize), aws.ToInt32(cfg.Timeout), env, archStrings(cfg.Architectures)})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
