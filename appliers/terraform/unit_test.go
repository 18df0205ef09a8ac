package terraform

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftless/driftless/appliers"
	"github.com/driftless/driftless/internal/redact"
)

func TestSummary(t *testing.T) {
	tests := []struct {
		name    string
		changes []appliers.Change
		outputs bool
		want    string
	}{
		{"none", nil, false, "no changes"},
		{"outputs only", nil, true, "outputs changed"},
		{"mixed", []appliers.Change{{Address: "a", Action: "create"}, {Address: "b", Action: "create"}, {Address: "c", Action: "update"}, {Address: "d", Action: "read"}}, false, "2 to add, 1 to change, 0 to destroy"},
		{"replace counts twice", []appliers.Change{{Address: "a", Action: "replace"}, {Address: "b", Action: "delete"}}, false, "1 to add, 0 to change, 2 to destroy"},
		{"forget", []appliers.Change{{Address: "a", Action: "forget"}}, false, "0 to add, 0 to change, 0 to destroy, 1 to forget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summary(tt.changes, tt.outputs); got != tt.want {
				t.Errorf("Summary = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPlanChangesAndID(t *testing.T) {
	mk := func(addr string, acts ...tfjson.Action) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, Change: &tfjson.Change{Actions: acts, After: map[string]any{"v": addr}}}
	}
	p := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		mk("b.x", tfjson.ActionUpdate),
		mk("a.x", tfjson.ActionCreate),
		mk("c.x", tfjson.ActionNoop),
		mk("d.x", tfjson.ActionDelete, tfjson.ActionCreate),
		mk("e.x", tfjson.ActionRead),
		mk("f.x", tfjson.ActionDelete),
	}}
	want := []appliers.Change{{Address: "a.x", Action: "create"}, {Address: "b.x", Action: "update"}, {Address: "d.x", Action: "replace"}, {Address: "e.x", Action: "read"}, {Address: "f.x", Action: "delete"}}
	if got := planChanges(p); !reflect.DeepEqual(got, want) {
		t.Errorf("planChanges = %v, want %v", got, want)
	}
	in := planIDInput{Revision: "abc", SpecJSON: []byte(`{}`), VarFiles: []namedContent{{"v.tfvars", []byte("x=1")}}}
	id1, _ := planID(in, p)
	// Same inputs in another order: same ID.
	p2 := &tfjson.Plan{ResourceChanges: append([]*tfjson.ResourceChange(nil), p.ResourceChanges...)}
	sort.Slice(p2.ResourceChanges, func(i, j int) bool { return p2.ResourceChanges[i].Address > p2.ResourceChanges[j].Address })
	id2, _ := planID(in, p2)
	if id1 != id2 {
		t.Errorf("plan ID depends on resource order")
	}
	variants := map[string]func() (string, error){
		"revision": func() (string, error) { i := in; i.Revision = "def"; return planID(i, p) },
		"spec":     func() (string, error) { i := in; i.SpecJSON = []byte(`{"a":1}`); return planID(i, p) },
		"var file": func() (string, error) {
			i := in
			i.VarFiles = []namedContent{{"v.tfvars", []byte("x=2")}}
			return planID(i, p)
		},
		"lock": func() (string, error) { i := in; i.LockFile = []byte("x"); return planID(i, p) },
		"changes": func() (string, error) {
			p3 := &tfjson.Plan{ResourceChanges: p.ResourceChanges[:2]}
			return planID(in, p3)
		},
		"no changes": func() (string, error) { return planID(in, nil) },
	}
	for name, f := range variants {
		id, err := f()
		if err != nil {
			t.Fatal(err)
		}
		if id == id1 {
			t.Errorf("plan ID does not change with %s", name)
		}
	}
}

func TestClassify(t *testing.T) {
	red := redact.New(envSecrets(nil, map[string]string{"AWS_SECRET_ACCESS_KEY": "s3cr3tvalue", "AWS_REGION": "us-east-1"})...)
	tests := []struct {
		name      string
		err       error
		stalled   bool
		transient bool
		stale     bool
		contains  string
	}{
		{name: "lock", err: errors.New("exit status 1\n\nError: Error acquiring the state lock\n\nError message: ConditionalCheckFailedException"), transient: true, contains: "state lock held"},
		{name: "stale", err: errors.New("exit status 1\n\nError: Saved plan is stale\n\nThe given plan file can no longer be applied"), transient: true, stale: true},
		{name: "network", err: errors.New("exit status 1\n\nError: reading SSM: dial tcp 127.0.0.1:1: connect: connection refused"), transient: true},
		{name: "config", err: errors.New("exit status 1\n\nError: Reference to undeclared resource\n\n  on main.tf line 3:\n   3:   input = foo.bar"), stalled: true, contains: "on main.tf line 3"},
		{name: "missing var", err: errors.New("exit status 1\n\nError: No value for required variable\n\n  on main.tf line 1:"), stalled: true},
		{name: "exec failure", err: errors.New("fork/exec /usr/bin/terraform: no such file"), transient: true},
		{name: "secret redacted", err: errors.New("exit status 1\n\nError: bad key s3cr3tvalue in request"), stalled: true, contains: "bad key [redacted]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify("plan", tt.err, red)
			if got := appliers.IsStalled(err); got != tt.stalled {
				t.Errorf("IsStalled = %v, want %v (%v)", got, tt.stalled, err)
			}
			if got, _ := appliers.IsTransient(err); got != tt.transient {
				t.Errorf("IsTransient = %v, want %v (%v)", got, tt.transient, err)
			}
			if got := errors.Is(err, ErrStalePlan); got != tt.stale {
				t.Errorf("ErrStalePlan = %v, want %v", got, tt.stale)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			if strings.Contains(err.Error(), "s3cr3tvalue") || strings.Contains(err.Error(), "exit status") {
				t.Errorf("error text not cleaned: %q", err)
			}
		})
	}
}

func TestSyncTree(t *testing.T) {
	root := t.TempDir()
	src := filepath.Join(root, srcDir)
	files := map[string]srcFile{
		"infra/a/main.tf":   {data: []byte("a")},
		"infra/a/run.sh":    {data: []byte("#!/bin/sh"), exec: true},
		"infra/a/sub/x.tf":  {data: []byte("x")},
		"infra/mods/m/m.tf": {data: []byte("m")},
	}
	st, err := syncTree(root, files)
	if err != nil || st.Written != 4 || st.Removed != 0 {
		t.Fatalf("first sync: %+v %v", st, err)
	}
	if fi, _ := os.Stat(filepath.Join(src, "infra/a/run.sh")); fi.Mode()&0o100 == 0 {
		t.Errorf("run.sh lost its executable bit: %v", fi.Mode())
	}
	// Terraform's own files must survive syncs.
	for _, p := range []string{"infra/a/.terraform/environment", "infra/a/.terraform.lock.hcl", "infra/a/terraform.tfstate"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(src, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte("keep"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st, err = syncTree(root, files)
	if err != nil || st.Written != 0 || st.Removed != 0 {
		t.Fatalf("unchanged sync: %+v %v", st, err)
	}
	delete(files, "infra/a/sub/x.tf")
	files["infra/a/main.tf"] = srcFile{data: []byte("a2")}
	st, err = syncTree(root, files)
	if err != nil || st.Written != 1 || st.Removed != 1 {
		t.Fatalf("changed sync: %+v %v", st, err)
	}
	if _, err := os.Stat(filepath.Join(src, "infra/a/sub")); !os.IsNotExist(err) {
		t.Errorf("empty dir infra/a/sub not pruned: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(src, "infra/a/main.tf")); string(b) != "a2" {
		t.Errorf("main.tf = %q", b)
	}
	for _, p := range []string{"infra/a/.terraform/environment", "infra/a/.terraform.lock.hcl", "infra/a/terraform.tfstate"} {
		if b, err := os.ReadFile(filepath.Join(src, p)); err != nil || string(b) != "keep" {
			t.Errorf("%s not kept: %q %v", p, b, err)
		}
	}
}

func TestDiagnosticText(t *testing.T) {
	in := "exit status 1\n\n╷\n│ Error: Invalid reference\n│ \n│   on main.tf line 2:\n╵\n"
	want := "Error: Invalid reference\n  on main.tf line 2:"
	if got := diagnosticText(in); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	long := "Error: x\n" + strings.Repeat("line\n", 100)
	if got := diagnosticText(long); strings.Count(got, "\n") > maxDiagLines+1 {
		t.Errorf("not truncated: %d lines", strings.Count(got, "\n"))
	}
}
