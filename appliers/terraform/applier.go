package terraform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/dropexec"
	"github.com/driftless/driftless/internal/redact"
)

// Config configures the Terraform applier.
type Config struct {
	Binary       string            // terraform binary; "" means "terraform" looked up on PATH
	PluginMirror string            // filesystem mirror root (the folder holding registry.terraform.io); optional
	WorkDir      string            // root of per-stack work dirs, e.g. STATE_DIR/terraform; required
	PluginCache  string            // shared plugin_cache_dir, e.g. STATE_DIR/plugin-cache; optional
	Env          map[string]string // terraform.env from the controller config
	AWSRegion    string            // aws.region → AWS_REGION / AWS_DEFAULT_REGION when set
	AWSEndpoint  string            // aws.endpoint → AWS_ENDPOINT_URL when set
	BaseEnv      []string          // the controller's environment (os.Environ()), filtered by the allow-list

	// LockTimeout is Terraform's -lock-timeout. Zero fails at once when the
	// state lock is held (a Transient error the reconciler retries).
	LockTimeout time.Duration
	// WaitDelay is how long a cancelled Terraform gets after SIGINT before
	// it is killed; zero means terraform-exec's default (60 s).
	WaitDelay time.Duration

	// RunAs, when set, runs every Terraform process as that user: the
	// daemon must run as root. Terraform is started through Self, which
	// must call dropexec.Main first thing (driftless's main does). Each
	// stack's work dir belongs to the user while one of the stack's
	// operations runs, and to root otherwise; the plugin cache belongs to
	// the user.
	RunAs *RunAs
	// Self is the executable Terraform is started through under RunAs;
	// "" means os.Executable().
	Self string

	// Redactor masks secrets in Terraform's output, in errors and in the
	// applier's logs. New adds every terraform.env value, the AWS
	// credentials and any other secret-looking variable Terraform gets.
	// Nil: New makes one for this applier alone.
	Redactor *redact.Redactor
}

// CLIConfigName is the file in WorkDir that holds driftless's Terraform CLI
// config; TF_CLI_CONFIG_FILE points at it.
const CLIConfigName = "terraformrc"

// Applier plans and applies `stack` blocks with Terraform. It is safe for
// concurrent use; operations on one stack are serialised.
type Applier struct {
	cfg       Config
	binary    string // the real terraform
	exe       string // what terraform-exec runs: binary, or Self under RunAs
	log       *slog.Logger
	env       map[string]string
	cliPath   string
	cliConfig string
	red       *redact.Redactor

	mu     sync.Mutex
	stacks map[string]*stack

	inits       atomic.Int64
	sharedInits atomic.Int64 // inits that took the plugin cache lock shared
	runs        atomic.Int64
	cmdEnv      []string // commandEnv(env)

	verMu   sync.Mutex
	version *version.Version // checkVersion's, once it ran
	verErr  error            // the binary is too old
}

var (
	_ appliers.Applier       = (*Applier)(nil)
	_ appliers.Outputter     = (*Applier)(nil)
	_ appliers.DriftDetector = (*Applier)(nil)
)

// stack is one stack's work directory and its Terraform handle. The handle
// is kept across runs (terraform-exec caches the version check in it) and is
// used under mu only.
type stack struct {
	mu    sync.Mutex
	root  string // WorkDir/<repo>/<app>
	tfDir string // root/src/<path>
	tf    *tfexec.Terraform

	// Under Applier.mu (see driftlock.go): deploys waiting for mu, and
	// the cancel func of the drift scan holding mu, if one does.
	waiting     int
	driftCancel context.CancelCauseFunc
}

// errDecodeOnly is returned by an applier made with NewDecoder when asked
// to run Terraform.
var errDecodeOnly = errors.New("terraform applier: created with NewDecoder, it only decodes manifests")

// NewDecoder returns an Applier that decodes and validates stack blocks but
// cannot run Terraform: for `driftless validate`, which must work where
// Terraform is not installed.
func NewDecoder() *Applier {
	return &Applier{log: slog.New(slog.DiscardHandler), stacks: map[string]*stack{}}
}

// New checks the configuration, writes the CLI config into WorkDir and
// returns an Applier.
func New(cfg Config, log *slog.Logger) (*Applier, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bin := cfg.Binary
	if bin == "" {
		bin = "terraform"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("terraform binary %q not found (set terraform.binary or put terraform on PATH): %w", bin, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return nil, fmt.Errorf("terraform binary: %w", err)
	}
	if cfg.WorkDir == "" {
		return nil, errors.New("terraform applier: WorkDir is required")
	}
	workDir, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("terraform work dir: %w", err)
	}
	cfg.WorkDir = workDir
	exe, err := checkRunAs(&cfg, path)
	if err != nil {
		return nil, err
	}
	a := &Applier{cfg: cfg, binary: path, exe: exe, log: log, stacks: map[string]*stack{}}
	if err := ensureDir(workDir, a.passMode()); err != nil {
		return nil, fmt.Errorf("terraform work dir: %w", err)
	}
	if cfg.PluginCache != "" {
		if cfg.PluginCache, err = filepath.Abs(cfg.PluginCache); err != nil {
			return nil, fmt.Errorf("plugin cache: %w", err)
		}
		if err := ensureDir(cfg.PluginCache, privateDir); err != nil {
			return nil, fmt.Errorf("plugin cache: %w", err)
		}
		if ra := cfg.RunAs; ra != nil {
			if err := chownAll(cfg.PluginCache, ra.UID, ra.GID); err != nil {
				return nil, fmt.Errorf("giving the plugin cache to the run_as user: %w", err)
			}
		}
	}
	if ra := cfg.RunAs; ra != nil {
		for _, d := range []string{workDir, cfg.PluginCache} {
			if d == "" {
				continue
			}
			if err := checkReachable(d, ra.UID, ra.GID); err != nil {
				return nil, fmt.Errorf("terraform run_as: %w", err)
			}
		}
	}
	var mirrored []string
	if cfg.PluginMirror != "" {
		if cfg.PluginMirror, err = filepath.Abs(cfg.PluginMirror); err != nil {
			return nil, fmt.Errorf("plugin mirror: %w", err)
		}
		if mirrored, err = mirroredProviders(cfg.PluginMirror); err != nil {
			return nil, err
		}
		if len(mirrored) == 0 {
			log.Warn("terraform plugin mirror holds no providers", "mirror", cfg.PluginMirror)
		}
	}
	a.cfg = cfg
	a.cliPath = filepath.Join(workDir, CLIConfigName)
	a.cliConfig = CLIConfig(cfg.PluginMirror, mirrored, cfg.PluginCache)
	cliMode := os.FileMode(privateFile)
	if cfg.RunAs != nil {
		cliMode = publicFile // no secrets: paths of the mirror and the cache
	}
	if err := writeFileIfChanged(a.cliPath, []byte(a.cliConfig), cliMode); err != nil {
		return nil, fmt.Errorf("writing terraform CLI config: %w", err)
	}
	env, dropped := BuildEnv(cfg.BaseEnv, cfg.Env, cfg.AWSRegion, cfg.AWSEndpoint, a.cliPath)
	if len(dropped) > 0 {
		log.Warn("terraform.env variables ignored: terraform-exec manages them or driftless sets them itself", "vars", dropped)
	}
	if ra := cfg.RunAs; ra != nil {
		for k, v := range dropexec.Env(path, ra.UID, ra.GID) {
			env[k] = v
		}
		if ra.Home != "" {
			env["HOME"] = ra.Home
		}
	}
	a.env = env
	a.cmdEnv = commandEnv(env)
	a.red = cfg.Redactor
	if a.red == nil {
		a.red = redact.New()
	}
	a.red.Add(envSecrets(cfg.Env, env)...)
	return a, nil
}

// Kind returns "stack".
func (a *Applier) Kind() string { return "stack" }

// Inits counts the `terraform init` runs since New (for tests and metrics).
func (a *Applier) Inits() int { return int(a.inits.Load()) }

// Runs counts the Terraform processes started since New (for tests and
// benchmarks).
func (a *Applier) Runs() int { return int(a.runs.Load()) }

// runCounter is terraform-exec's logger: it logs one line per Terraform
// process it starts, which the applier counts.
type runCounter struct{ n *atomic.Int64 }

func (c runCounter) Printf(format string, _ ...any) {
	if strings.HasPrefix(format, "[INFO] running Terraform command") {
		c.n.Add(1)
	}
}

// Env returns a copy of the environment Terraform runs with (besides what
// terraform-exec adds).
func (a *Applier) Env() map[string]string {
	m := make(map[string]string, len(a.env))
	for k, v := range a.env {
		m[k] = v
	}
	return m
}

// WorkDirOf returns the work directory of a stack.
func (a *Applier) WorkDirOf(repo, app string) (string, error) {
	r, err := safeName(repo)
	if err != nil {
		return "", err
	}
	ap, err := safeName(app)
	if err != nil {
		return "", err
	}
	return filepath.Join(a.cfg.WorkDir, r, ap), nil
}

// stackFor finds (or adds) the request's stack and returns it with the
// Terraform directory the request needs; the caller sets it with setDir once
// it holds st.mu (a.mu is never held while waiting for st.mu: a long apply
// of one stack must not hold up the others).
func (a *Applier) stackFor(req appliers.Request, spec *Spec) (*stack, string, error) {
	root, err := a.WorkDirOf(req.Repo, req.App)
	if err != nil {
		return nil, "", appliers.Stalled(err)
	}
	tfDir := filepath.Join(root, srcDir, filepath.FromSlash(spec.Path))
	a.mu.Lock()
	defer a.mu.Unlock()
	st, ok := a.stacks[root]
	if !ok {
		st = &stack{root: root}
		a.stacks[root] = st
	}
	return st, tfDir, nil
}

// setDir points the stack at tfDir, dropping the Terraform handle when it
// moved (st.mu held).
func (st *stack) setDir(tfDir string) {
	if st.tfDir != tfDir {
		st.tfDir, st.tf = tfDir, nil
	}
}

func specOf(req appliers.Request) (*Spec, error) {
	spec, ok := req.Spec.(*Spec)
	if !ok || spec == nil {
		return nil, appliers.Stalled(fmt.Errorf("terraform applier: spec is %T, not *terraform.Spec", req.Spec))
	}
	if req.Tree == nil {
		return nil, appliers.Stalled(errors.New("terraform applier: request has no repository tree"))
	}
	return spec, nil
}

func (a *Applier) logger(req appliers.Request) *slog.Logger {
	if req.Log != nil {
		return req.Log
	}
	return a.log.With("repo", req.Repo, "app", req.App, "revision", req.Revision, "deploy_id", req.DeployID)
}

// terraform returns the stack's Terraform handle (st.mu held).
func (a *Applier) terraform(st *stack) (*tfexec.Terraform, error) {
	if st.tf != nil {
		return st.tf, nil
	}
	rel, err := filepath.Rel(st.root, st.tfDir)
	if err != nil {
		return nil, err
	}
	if err := mkdirIn(st.root, rel); err != nil {
		return nil, err
	}
	if err := a.handOver(st); err != nil {
		return nil, err
	}
	tf, err := tfexec.NewTerraform(st.tfDir, a.exe)
	if err != nil {
		return nil, fmt.Errorf("terraform: %w", err)
	}
	if err := tf.SetEnv(a.Env()); err != nil {
		return nil, fmt.Errorf("terraform environment: %w", err)
	}
	tf.SetLogger(runCounter{&a.runs})
	// terraform-exec keeps stderr for the error too; this copy is logged.
	tf.SetStderr(a.red.Writer(lineLogger{log: a.log.With("dir", st.tfDir), stream: "stderr"}))
	if a.cfg.WaitDelay > 0 {
		if err := tf.SetWaitDelay(a.cfg.WaitDelay); err != nil {
			return nil, fmt.Errorf("terraform: %w", err)
		}
	}
	st.tf = tf
	return tf, nil
}

// initRecord is what init.json keeps of the last successful init.
type initRecord struct {
	Fingerprint string `json:"fingerprint"`
	Backend     string `json:"backend"`
	DataDir     bool   `json:"data_dir"`          // .terraform existed after init
	Skipped     bool   `json:"skipped,omitempty"` // init was not needed (initNotNeeded)
}

// prepare materialises the stack's files, writes the var file, runs init
// when needed and selects the workspace (st.mu held).
func (a *Applier) prepare(ctx context.Context, st *stack, req appliers.Request, spec *Spec, log *slog.Logger) (*tfexec.Terraform, error) {
	files, err := collectFiles(req.Tree, spec)
	if err != nil {
		return nil, appliers.Stalled(fmt.Errorf("reading stack files: %w", err))
	}
	stats, err := syncTree(st.root, files)
	if err != nil {
		return nil, fmt.Errorf("syncing work dir: %w", err)
	}
	if stats.Written+stats.Removed > 0 {
		log.Debug("terraform work dir synced", "written", stats.Written, "removed", stats.Removed)
	}
	vf := filepath.Join(st.root, varsFile)
	if len(spec.Vars) > 0 {
		b, err := json.MarshalIndent(spec.Vars, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encoding vars: %w", err)
		}
		if err := writeInIfChanged(st.root, varsFile, b, privateFile); err != nil {
			return nil, err
		}
	} else if err := os.Remove(vf); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := a.handOver(st); err != nil {
		return nil, err
	}
	tf, err := a.terraform(st)
	if err != nil {
		return nil, err
	}
	if _, err := a.checkVersion(ctx); err != nil {
		return nil, err
	}
	fp, backendFP, err := a.initFingerprint(req.Tree, spec)
	if err != nil {
		return nil, appliers.Stalled(err)
	}
	var rec initRecord
	recPath := filepath.Join(st.root, initFile)
	haveRec := false
	if b, err := os.ReadFile(recPath); err == nil && json.Unmarshal(b, &rec) == nil {
		haveRec = true
	}
	_, statErr := os.Stat(filepath.Join(st.tfDir, ".terraform"))
	dataDir := statErr == nil
	if !haveRec || rec.Fingerprint != fp || (rec.DataDir && !dataDir) {
		if !dataDir && initNotNeeded(req.Tree, spec) {
			log.Debug("terraform init skipped: built-in provider only, no module, local backend")
			b, _ := json.Marshal(initRecord{Fingerprint: fp, Backend: backendFP, Skipped: true})
			if err := writeInIfChanged(st.root, initFile, b, privateFile); err != nil {
				return nil, err
			}
		} else {
			reconfigure := dataDir && (!haveRec || rec.Backend != backendFP)
			if err := a.init(ctx, st, spec, fp, backendFP, reconfigure, log); err != nil {
				return nil, err
			}
		}
	}
	if err := a.selectWorkspace(ctx, st, tf, spec.Workspace); err != nil {
		return nil, err
	}
	return tf, nil
}

func (a *Applier) init(ctx context.Context, st *stack, spec *Spec, fp, backendFP string, reconfigure bool, log *slog.Logger) error {
	start := time.Now()
	key := lockFileKey(st.tfDir)
	shared := cachedLockFile(a.cfg.PluginCache, key)
	unlock, err := lockPluginCache(ctx, a.cfg.PluginCache, shared)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("terraform init: %w", err)
		}
		return appliers.Transient(fmt.Errorf("terraform init: %w", err), installRetry)
	}
	waited := time.Since(start)
	a.inits.Add(1)
	if shared {
		a.sharedInits.Add(1)
	}
	err = a.exec(ctx, st, nil, initArgs(reconfigure, spec.BackendConfig)...)
	unlock()
	if err != nil {
		setCachedLockFile(a.cfg.PluginCache, key, false)
		return classify("init", err, a.red)
	}
	setCachedLockFile(a.cfg.PluginCache, lockFileKey(st.tfDir), true)
	log.Info("terraform init done", "reconfigure", reconfigure, "shared_cache_lock", shared, "duration_ms", time.Since(start).Milliseconds(), "cache_wait_ms", waited.Milliseconds())
	_, statErr := os.Stat(filepath.Join(st.tfDir, ".terraform"))
	b, _ := json.Marshal(initRecord{Fingerprint: fp, Backend: backendFP, DataDir: statErr == nil})
	return writeInIfChanged(st.root, initFile, b, privateFile)
}

// initFingerprint is initFingerprint with the applier's CLI config, binary
// and version (checkVersion ran).
func (a *Applier) initFingerprint(tree fs.FS, spec *Spec) (all, backend string, err error) {
	a.verMu.Lock()
	v := ""
	if a.version != nil {
		v = a.version.String()
	}
	a.verMu.Unlock()
	return initFingerprint(tree, spec, a.cliConfig, a.binary, v)
}

// BackendConfigArgs renders backend_config as KEY=VALUE arguments of
// -backend-config, sorted by key.
func BackendConfigArgs(bc map[string]string) []string {
	keys := make([]string, 0, len(bc))
	for k := range bc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+bc[k])
	}
	return out
}

// selectWorkspace selects (creating if needed) the workspace. Terraform
// keeps the selected workspace in .terraform/environment; nothing runs when
// it is already the one wanted.
func (a *Applier) selectWorkspace(ctx context.Context, st *stack, tf *tfexec.Terraform, ws string) error {
	cur := DefaultWorkspace
	if b, err := os.ReadFile(filepath.Join(st.tfDir, ".terraform", "environment")); err == nil && len(b) > 0 {
		cur = string(b)
	}
	if cur == ws {
		return nil
	}
	if err := tf.WorkspaceSelect(ctx, ws); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return classify("workspace select", err, a.red)
		}
		if err2 := tf.WorkspaceNew(ctx, ws); err2 != nil {
			return classify("workspace new", err2, a.red)
		}
	}
	return nil
}
