package config

import (
	"os"
	"regexp"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var (
	rootSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "state_dir"}, {Name: "listen"}, {Name: "api_token"}, {Name: "instance"}, {Name: "drift_reminder"}, {Name: "lease_ttl"}, {Name: "external_url"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "nats"}, {Type: "aws"}, {Type: "terraform"}, {Type: "slack"}, {Type: "github"},
			{Type: "repo", LabelNames: []string{"name"}},
		},
	}
	natsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "url"}, {Name: "replicas"}, {Name: "sync_interval"},
		{Name: "listen"}, {Name: "user"}, {Name: "password"}, {Name: "token"},
	}}
	awsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "region"}, {Name: "endpoint"}}}
	tfSchema  = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "binary"}, {Name: "plugin_mirror"}, {Name: "max_parallel"}, {Name: "env"}, {Name: "run_as"},
	}}
	slackSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "token"}, {Name: "api_url"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "route"}},
	}
	routeSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "events"}, {Name: "channel"}}}
	repoSchema  = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "url"}, {Name: "branch"}, {Name: "path"}, {Name: "interval"},
			{Name: "webhook_secret"}, {Name: "drift_interval"}, {Name: "drift_pr"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "auth"}, {Type: "pull_requests"}},
	}
	githubSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "token"}, {Name: "api_url"}}}
	prSchema     = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "enabled"}, {Name: "allow_forks"}, {Name: "max_parallel"}}}
	authSchema   = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "token"}, {Name: "username"}, {Name: "ssh_key_file"}, {Name: "known_hosts_file"},
	}}

	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// instanceRE: host-name characters; the name goes into CloudEvents
	// sources and lease records.
	instanceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// decoder accumulates diagnostics while decoding the file.
type decoder struct {
	dir   string
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

// content applies schema to body, recording unknown attributes and blocks.
func (d *decoder) content(body hcl.Body, schema *hcl.BodySchema) *hcl.BodyContent {
	c, diags := body.Content(schema)
	d.add(diags...)
	return c
}

// single returns the only block of type typ, reporting duplicates.
func (d *decoder) single(blocks hcl.Blocks, typ string) *hcl.Block {
	var first *hcl.Block
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first != nil {
			d.add(errAt(b.DefRange, "Duplicate "+typ+" block",
				"Only one %s block is allowed; the first is at %s.", typ, first.DefRange))
			continue
		}
		first = b
	}
	return first
}

// value evaluates an attribute; ok is false when it is absent, null or
// failed to evaluate (then a diagnostic was recorded).
func (d *decoder) value(attrs hcl.Attributes, name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	a, ok := attrs[name]
	if !ok {
		return cty.NilVal, nil, false
	}
	v, diags := a.Expr.Value(d.ctx)
	d.add(diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, a, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.add(errAt(a.Expr.Range(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.", name, err.Error()))
		return cty.NilVal, a, false
	}
	if !cv.IsWhollyKnown() {
		d.add(errAt(a.Expr.Range(), "Unknown value", "The value of %q cannot be determined.", name))
		return cty.NilVal, a, false
	}
	return cv, a, true
}

// str decodes a string attribute; "" when absent or null. rng is the value's
// range (or def when the attribute is absent).
func (d *decoder) str(attrs hcl.Attributes, name string, def hcl.Range) (string, hcl.Range) {
	v, a, ok := d.value(attrs, name, cty.String)
	rng := def
	if a != nil {
		rng = a.Expr.Range()
	}
	if !ok {
		return "", rng
	}
	return v.AsString(), rng
}

// required decodes a string attribute that must be present and non-empty.
func (d *decoder) required(attrs hcl.Attributes, name string, def hcl.Range) (string, hcl.Range) {
	s, rng := d.str(attrs, name, def)
	if _, present := attrs[name]; !present {
		d.add(errAt(def, "Missing required argument", "The argument %q is required.", name))
	} else if s == "" && !d.failedAt(rng) {
		d.add(errAt(rng, "Empty value", "The argument %q must not be empty (is an environment variable unset?).", name))
	}
	return s, rng
}

// failedAt reports whether an error was already recorded at rng's start.
func (d *decoder) failedAt(rng hcl.Range) bool {
	for _, dg := range d.diags {
		if dg.Subject != nil && dg.Subject.Filename == rng.Filename && dg.Subject.Start.Byte >= rng.Start.Byte && dg.Subject.Start.Byte <= rng.End.Byte {
			return true
		}
	}
	return false
}

// integer decodes a whole-number attribute within [lo, hi].
func (d *decoder) integer(attrs hcl.Attributes, name string, dflt, lo, hi int) int {
	v, a, ok := d.value(attrs, name, cty.Number)
	if !ok {
		return dflt
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < int64(lo) || n > int64(hi) {
		d.add(errAt(a.Expr.Range(), "Invalid value", "%q must be a whole number from %d to %d.", name, lo, hi))
		return dflt
	}
	return int(n)
}

// duration decodes a Go duration string ("90s", "1m", "15m"). zeroOK allows
// "0" (and "0s").
func (d *decoder) duration(attrs hcl.Attributes, name string, dflt, min time.Duration, zeroOK bool) time.Duration {
	s, rng := d.str(attrs, name, hcl.Range{})
	if s == "" {
		return dflt
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.add(errAt(rng, "Invalid duration", "%q is not a duration for %q; use Go duration syntax such as \"90s\", \"1m\" or \"15m\".", s, name))
		return dflt
	}
	switch {
	case v == 0 && zeroOK:
		return 0
	case v < min:
		d.add(errAt(rng, "Invalid duration", "%q must be at least %s (got %s).", name, min, v))
		return dflt
	}
	return v
}

func (d *decoder) decodeRoot(body hcl.Body) *Config {
	c := d.content(body, rootSchema)
	top := body.MissingItemRange()
	cfg := &Config{
		Listen:   DefaultListen,
		StateDir: resolvePath(d.dir, DefaultStateDir),
		NATS:     NATSConfig{Replicas: DefaultNATSReplicas},
		Terraform: TerraformConfig{
			MaxParallel: DefaultMaxParallel,
		},
	}
	if s, _ := d.str(c.Attributes, "state_dir", top); s != "" {
		cfg.StateDir = resolvePath(d.dir, s)
	}
	if s, rng := d.str(c.Attributes, "listen", top); s != "" {
		if err := checkListen(s); err != nil {
			d.add(errAt(rng, "Invalid listen address", "%s.", err))
		}
		cfg.Listen = s
	}
	if s, rng := d.str(c.Attributes, "external_url", top); s != "" {
		if err := checkExternalURL(s); err != nil {
			d.add(errAt(rng, "Invalid external_url", "%s.", err))
		}
		cfg.ExternalURL = s
	}
	tok, _ := d.str(c.Attributes, "api_token", top)
	cfg.APIToken = Secret(tok)
	var irng hcl.Range
	cfg.DriftReminder = d.duration(c.Attributes, "drift_reminder", 0, time.Minute, true)
	cfg.LeaseTTL = d.duration(c.Attributes, "lease_ttl", DefaultLeaseTTL, 2*time.Second, false)
	cfg.Instance, irng = d.str(c.Attributes, "instance", top)
	if cfg.Instance != "" && !instanceRE.MatchString(cfg.Instance) {
		d.add(errAt(irng, "Invalid instance name", "%q must match [A-Za-z0-9][A-Za-z0-9._-]* (at most 64 characters).", cfg.Instance))
	}
	if cfg.Instance == "" {
		cfg.Instance = defaultInstance()
	}
	cfg.holder = newHolder(cfg.Instance)

	if b := d.single(c.Blocks, "nats"); b != nil {
		d.decodeNATS(b, &cfg.NATS)
	}
	if b := d.single(c.Blocks, "aws"); b != nil {
		d.decodeAWS(b, &cfg.AWS)
	}
	if b := d.single(c.Blocks, "terraform"); b != nil {
		d.decodeTerraform(b, &cfg.Terraform)
	}
	if b := d.single(c.Blocks, "slack"); b != nil {
		cfg.Slack = d.decodeSlack(b)
	}
	if b := d.single(c.Blocks, "github"); b != nil {
		cfg.GitHub = d.decodeGitHub(b)
	}

	seen := map[string]hcl.Range{}
	for _, b := range c.Blocks {
		if b.Type != "repo" {
			continue
		}
		r := d.decodeRepo(b)
		if prev, dup := seen[r.Name]; dup {
			d.add(errAt(b.LabelRanges[0], "Duplicate repo", "A repo named %q is already defined at %s.", r.Name, prev))
			continue
		}
		seen[r.Name] = b.DefRange
		cfg.Repos = append(cfg.Repos, r)
	}
	d.checkForge(cfg)
	if len(seen) == 0 && !d.diags.HasErrors() {
		d.add(errAt(top, "No repo block", "The config must declare at least one repo block."))
	}
	return cfg
}

func (d *decoder) decodeAWS(b *hcl.Block, a *AWSConfig) {
	c := d.content(b.Body, awsSchema)
	a.Region, _ = d.str(c.Attributes, "region", b.DefRange)
	e, rng := d.str(c.Attributes, "endpoint", b.DefRange)
	if e != "" {
		if err := checkHTTPURL(e); err != nil {
			d.add(errAt(rng, "Invalid endpoint", "%s.", err))
		}
	}
	a.Endpoint = e
}

func (d *decoder) decodeTerraform(b *hcl.Block, t *TerraformConfig) {
	c := d.content(b.Body, tfSchema)
	if s, _ := d.str(c.Attributes, "binary", b.DefRange); s != "" {
		if containsSeparator(s) {
			s = resolvePath(d.dir, s)
		}
		t.Binary = s
	}
	if s, _ := d.str(c.Attributes, "plugin_mirror", b.DefRange); s != "" {
		t.PluginMirror = resolvePath(d.dir, s)
	}
	t.MaxParallel = d.integer(c.Attributes, "max_parallel", DefaultMaxParallel, 1, 256)
	if s, rng := d.str(c.Attributes, "run_as", b.DefRange); s != "" {
		t.RunAs = d.runAs(s, rng)
	}
	if v, a, ok := d.value(c.Attributes, "env", cty.Map(cty.String)); ok {
		t.Env = EnvVars{}
		for k, ev := range v.AsValueMap() {
			if !envKeyRE.MatchString(k) {
				d.add(errAt(a.Expr.Range(), "Invalid environment variable name", "%q is not a valid environment variable name.", k))
				continue
			}
			if ev.IsNull() {
				continue
			}
			t.Env[k] = ev.AsString()
		}
	}
}

func (d *decoder) decodeSlack(b *hcl.Block) *SlackConfig {
	c := d.content(b.Body, slackSchema)
	s := &SlackConfig{}
	tok, _ := d.required(c.Attributes, "token", b.DefRange)
	s.Token = Secret(tok)
	s.APIURL = d.apiURL(c.Attributes, b.DefRange, "Slack")
	for _, rb := range c.Blocks {
		s.Routes = append(s.Routes, d.decodeRoute(rb))
	}
	if len(s.Routes) == 0 {
		d.add(errAt(b.DefRange, "No route", "The slack block needs at least one route block (events and channel)."))
	}
	return s
}

func (d *decoder) decodeRoute(b *hcl.Block) Route {
	c := d.content(b.Body, routeSchema)
	r := Route{DefRange: b.DefRange}
	r.Channel, _ = d.required(c.Attributes, "channel", b.DefRange)
	if _, ok := c.Attributes["events"]; !ok {
		d.add(errAt(b.DefRange, "Missing required argument", "The argument %q is required.", "events"))
		return r
	}
	v, a, ok := d.value(c.Attributes, "events", cty.List(cty.String))
	if !ok {
		return r
	}
	for _, ev := range v.AsValueSlice() {
		if ev.IsNull() {
			continue
		}
		p := ev.AsString()
		if err := checkPattern(p); err != nil {
			d.add(errAt(a.Expr.Range(), "Invalid event pattern", "%s.", err))
			continue
		}
		r.Events = append(r.Events, p)
	}
	if len(r.Events) == 0 && !d.failedAt(a.Expr.Range()) {
		d.add(errAt(a.Expr.Range(), "Empty value", "The argument \"events\" needs at least one pattern, such as \"deploy.*\"."))
	}
	return r
}

func (d *decoder) decodeRepo(b *hcl.Block) RepoConfig {
	r := RepoConfig{Name: b.Labels[0], DefRange: b.DefRange}
	if !nameRE.MatchString(r.Name) {
		d.add(errAt(b.LabelRanges[0], "Invalid repo name", "%q must match [a-z0-9][a-z0-9_-]*.", r.Name))
	}
	c := d.content(b.Body, repoSchema)
	u, urng := d.required(c.Attributes, "url", b.DefRange)
	if u != "" {
		norm, err := normalizeRepoURL(d.dir, u)
		if err != nil {
			d.add(errAt(urng, "Invalid repo URL", "%s.", err))
		}
		r.URL = norm
	}
	r.Branch = DefaultBranch
	if s, rng := d.str(c.Attributes, "branch", b.DefRange); s != "" {
		if err := checkBranch(s); err != nil {
			d.add(errAt(rng, "Invalid branch", "%s.", err))
		}
		r.Branch = s
	}
	if s, rng := d.str(c.Attributes, "path", b.DefRange); s != "" {
		p, err := cleanRepoPath(s)
		if err != nil {
			d.add(errAt(rng, "Invalid path", "%s.", err))
		}
		r.Path = p
	}
	r.Interval = d.duration(c.Attributes, "interval", DefaultInterval, MinInterval, false)
	r.DriftInterval = d.duration(c.Attributes, "drift_interval", DefaultDriftInterval, MinInterval, true)
	ws, _ := d.str(c.Attributes, "webhook_secret", b.DefRange)
	r.WebhookSecret = Secret(ws)

	r.DriftPR = d.boolean(c.Attributes, "drift_pr", false)
	if ab := d.single(c.Blocks, "auth"); ab != nil {
		d.decodeAuth(ab, &r)
	}
	if pb := d.single(c.Blocks, "pull_requests"); pb != nil {
		r.PullRequests = d.decodePullRequests(pb)
	}
	return r
}

func (d *decoder) decodeAuth(b *hcl.Block, r *RepoConfig) {
	c := d.content(b.Body, authSchema)
	a := &r.Auth
	tok, trng := d.str(c.Attributes, "token", b.DefRange)
	a.Token = Secret(tok)
	a.Username, _ = d.str(c.Attributes, "username", b.DefRange)
	key, krng := d.str(c.Attributes, "ssh_key_file", b.DefRange)
	kh, khrng := d.str(c.Attributes, "known_hosts_file", b.DefRange)
	transport := ""
	if r.URL != "" {
		transport = urlTransport(r.URL)
	}
	if tok != "" {
		switch transport {
		case "ssh":
			d.add(errAt(trng, "Token with an SSH URL", "A token authenticates over http(s) only; for an SSH URL use ssh_key_file and known_hosts_file."))
		case "file":
			d.add(errAt(trng, "Token with a local repo", "A token is only used with an http(s) URL."))
		case "http":
			if host := urlHost(r.URL); !isLoopbackHost(host) {
				d.add(errAt(trng, "Token over plain http",
					"The token would cross the network to %s in clear text; use an https:// URL (plain http:// with a token is allowed only to a loopback host: 127.0.0.0/8, ::1, localhost).", host))
			}
		}
		if key != "" {
			d.add(errAt(krng, "Conflicting auth", "Set either token or ssh_key_file, not both."))
		}
	}
	if key != "" {
		a.SSHKeyFile = resolvePath(d.dir, key)
		if transport != "" && transport != "ssh" {
			d.add(errAt(krng, "SSH key with a non-SSH URL", "ssh_key_file is only used with ssh:// or scp-like (git@host:path) URLs."))
		}
		if kh == "" {
			d.add(errAt(krng, "Missing known_hosts_file", "ssh_key_file needs known_hosts_file, so the server's host key is verified."))
		}
		d.checkFile(a.SSHKeyFile, krng, "ssh_key_file")
	}
	if kh != "" {
		a.KnownHostsFile = resolvePath(d.dir, kh)
		if key == "" {
			d.add(errAt(khrng, "Missing ssh_key_file", "known_hosts_file is only used together with ssh_key_file."))
		}
		d.checkFile(a.KnownHostsFile, khrng, "known_hosts_file")
	}
	if a.Username != "" && tok == "" {
		d.add(errAt(b.DefRange, "Username without token", "username is used only together with token."))
	}
}

// checkFile reports a missing or unreadable file named by attribute name.
func (d *decoder) checkFile(path string, rng hcl.Range, name string) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		d.add(errAt(rng, "Unreadable file", "%s %s: %v.", name, path, unwrapPathError(err)))
	case fi.IsDir():
		d.add(errAt(rng, "Not a file", "%s %s is a directory.", name, path))
	}
}
