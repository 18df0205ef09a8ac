package terraform

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/driftless/driftless/appliers"
)

// action names the kind of change a resource change makes ("" for no-op).
func action(a tfjson.Actions) string {
	switch {
	case a.Replace():
		return "replace"
	case a.Create():
		return "create"
	case a.Update():
		return "update"
	case a.Delete():
		return "delete"
	case a.Read():
		return "read"
	case a.Forget():
		return "forget"
	}
	return ""
}

// planChanges lists the resource changes of a plan, no-ops skipped, sorted
// by address (deposed objects after their current object).
func planChanges(p *tfjson.Plan) []appliers.Change {
	var out []appliers.Change
	for _, rc := range sortedResourceChanges(p) {
		if rc.Change == nil {
			continue
		}
		if act := action(rc.Change.Actions); act != "" {
			addr := rc.Address
			if rc.DeposedKey != "" {
				addr += " (deposed " + rc.DeposedKey + ")"
			}
			out = append(out, appliers.Change{Address: addr, Action: act})
		}
	}
	return out
}

func sortedResourceChanges(p *tfjson.Plan) []*tfjson.ResourceChange {
	rcs := append([]*tfjson.ResourceChange(nil), p.ResourceChanges...)
	sort.SliceStable(rcs, func(i, j int) bool {
		if rcs[i].Address != rcs[j].Address {
			return rcs[i].Address < rcs[j].Address
		}
		return rcs[i].DeposedKey < rcs[j].DeposedKey
	})
	return rcs
}

// Summary words a plan the way Terraform does: "2 to add, 1 to change,
// 0 to destroy" (a replacement counts as one add and one destroy), with
// ", 1 to import" / ", 1 to forget" when there are such, or
// "outputs changed" when only outputs change.
func Summary(changes []appliers.Change, outputsChanged bool) string {
	var add, change, destroy, forget int
	for _, c := range changes {
		switch c.Action {
		case "create":
			add++
		case "update":
			change++
		case "delete":
			destroy++
		case "replace":
			add++
			destroy++
		case "forget":
			forget++
		}
	}
	if add+change+destroy+forget == 0 {
		if outputsChanged {
			return "outputs changed"
		}
		return "no changes"
	}
	s := fmt.Sprintf("%d to add, %d to change, %d to destroy", add, change, destroy)
	if forget > 0 {
		s += fmt.Sprintf(", %d to forget", forget)
	}
	return s
}

// outputsChanged reports whether any output would change.
func outputsChanged(p *tfjson.Plan) bool {
	for _, oc := range p.OutputChanges {
		if oc != nil && !oc.Actions.NoOp() {
			return true
		}
	}
	return false
}

// planIDInput is what the plan ID covers besides the planned changes.
type planIDInput struct {
	Revision string
	SpecJSON []byte
	VarFiles []namedContent // in spec order
	LockFile []byte         // the dependency lock file used (may be empty)
}

type namedContent struct {
	Name    string
	Content []byte
}

// planID computes the plan's ID (see the package doc). p may be nil for a
// plan without changes, which is not read with `show`.
func planID(in planIDInput, p *tfjson.Plan) (string, error) {
	h := sha256.New()
	field := func(w io.Writer, tag string, b []byte) {
		fmt.Fprintf(w, "%s\x00%d\x00", tag, len(b))
		w.Write(b)
	}
	field(h, "v", []byte("driftless-plan-v1"))
	field(h, "revision", []byte(in.Revision))
	field(h, "spec", in.SpecJSON)
	for _, f := range in.VarFiles {
		field(h, "varfile", []byte(f.Name))
		field(h, "content", f.Content)
	}
	field(h, "lock", in.LockFile)
	if p != nil {
		for _, rc := range sortedResourceChanges(p) {
			if rc.Change == nil || rc.Change.Actions.NoOp() {
				continue
			}
			b, err := json.Marshal(struct {
				Address, Deposed                string
				Actions                         tfjson.Actions
				Before, After, AfterUnknown     any
				BeforeSensitive, AfterSensitive any
				ReplacePaths                    []any
			}{rc.Address, rc.DeposedKey, rc.Change.Actions, rc.Change.Before, rc.Change.After, rc.Change.AfterUnknown,
				rc.Change.BeforeSensitive, rc.Change.AfterSensitive, rc.Change.ReplacePaths})
			if err != nil {
				return "", fmt.Errorf("hashing plan: %w", err)
			}
			field(h, "resource", b)
		}
		names := make([]string, 0, len(p.OutputChanges))
		for n := range p.OutputChanges {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			oc := p.OutputChanges[n]
			if oc == nil || oc.Actions.NoOp() {
				continue
			}
			b, err := json.Marshal(struct {
				Name                            string
				Actions                         tfjson.Actions
				Before, After, AfterUnknown     any
				BeforeSensitive, AfterSensitive any
			}{n, oc.Actions, oc.Before, oc.After, oc.AfterUnknown, oc.BeforeSensitive, oc.AfterSensitive})
			if err != nil {
				return "", fmt.Errorf("hashing plan: %w", err)
			}
			field(h, "output", b)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
