package manifest

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Limits bound the evaluation of one revision's manifests, so that a
// hostile or broken commit cannot exhaust the controller's memory or time.
// Going over any of them rejects the revision with a diagnostic at the
// offending expression.
type Limits struct {
	// FileBytes is the largest file file() may read, and the largest
	// manifest (*.hcl) file.
	FileBytes int64
	// ReadBytes is the total of the manifest files and the files read by
	// file() (each call counts, also for a file read before).
	ReadBytes int64
	// StringBytes is the longest string a function may build (format,
	// formatlist, join, replace, jsonencode, …) and the largest value a
	// single function call may return.
	StringBytes int64
	// FunctionBytes is the total size of the values all function calls
	// of one evaluation may return.
	FunctionBytes int64
	// Elements is the most elements a function may return (split,
	// regexall, concat, flatten, merge, jsondecode, csvdecode), and the
	// most elements the for expressions of one attribute may produce,
	// nested for expressions multiplying (see checkFors).
	Elements int64
	// FormatWidth is the largest width or precision in a format verb
	// (format, formatlist), e.g. the 12 of "%12s".
	FormatWidth int
	// Time is how long one evaluation (a Load, a Decode) may take.
	Time time.Duration
}

// DefaultLimits are the limits New gives a loader. range() has its own
// limit, from the cty stdlib: at most 1024 elements.
var DefaultLimits = Limits{
	FileBytes:     4 << 20,
	ReadBytes:     32 << 20,
	StringBytes:   4 << 20,
	FunctionBytes: 64 << 20,
	Elements:      100_000,
	FormatWidth:   1024,
	Time:          10 * time.Second,
}

// budget is what is left of the limits during one evaluation; the
// manifest functions of that evaluation share it.
type budget struct {
	lim      Limits
	deadline time.Time
	read     int64 // bytes read so far
	produced int64 // bytes returned by functions so far
}

func newBudget(lim Limits) *budget {
	return &budget{lim: lim, deadline: time.Now().Add(lim.Time)}
}

// errTime is the error once the evaluation has run out of time.
func (b *budget) errTime() error {
	if time.Now().After(b.deadline) {
		return fmt.Errorf("evaluating the manifests took longer than the %v allowed", b.lim.Time)
	}
	return nil
}

// errSpent is the error once the evaluation has run out of time or the
// function calls have returned more than their total: once spent, every
// further call fails at once rather than build a value to throw away.
func (b *budget) errSpent() error {
	if b.produced > b.lim.FunctionBytes {
		return errFunctionBytes(b.lim.FunctionBytes)
	}
	return b.errTime()
}

func errFunctionBytes(limit int64) error {
	return fmt.Errorf("the function calls of these manifests return more than the %s allowed in all", bytesString(limit))
}

// timeDiag is a diagnostic at rng when the evaluation has run out of time.
func (b *budget) timeDiag(rng hcl.Range) hcl.Diagnostics {
	if err := b.errTime(); err != nil {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Evaluation limit exceeded",
			Detail: upperFirst(err.Error()) + ".", Subject: rng.Ptr()}}
	}
	return nil
}

// chargeRead counts n bytes read.
func (b *budget) chargeRead(n int64, what string) error {
	b.read += n
	if b.read > b.lim.ReadBytes {
		return fmt.Errorf("reading %s goes over the %s the manifests may read in all", what, bytesString(b.lim.ReadBytes))
	}
	return nil
}

// chargeResult counts a function's result against the per-call and the
// total limits.
func (b *budget) chargeResult(v cty.Value) error {
	n := valueSize(v, b.lim.FunctionBytes+1)
	if n > b.lim.StringBytes {
		return fmt.Errorf("the result would be larger than the %s allowed", bytesString(b.lim.StringBytes))
	}
	b.produced += n
	if b.produced > b.lim.FunctionBytes {
		return errFunctionBytes(b.lim.FunctionBytes)
	}
	return nil
}

// valueSize estimates the memory v takes: its strings' bytes plus 16
// bytes per value. It stops counting once past limit. Values shared
// between elements count each time they appear, as they will when
// printed or encoded.
func valueSize(v cty.Value, limit int64) int64 {
	var n int64
	var walk func(v cty.Value)
	walk = func(v cty.Value) {
		if n > limit {
			return
		}
		n += 16
		v, _ = v.Unmark()
		if !v.IsKnown() || v.IsNull() {
			return
		}
		ty := v.Type()
		switch {
		case ty == cty.String:
			n += int64(len(v.AsString()))
		case ty.IsListType() || ty.IsSetType() || ty.IsTupleType() || ty.IsMapType() || ty.IsObjectType():
			for it := v.ElementIterator(); it.Next() && n <= limit; {
				k, e := it.Element()
				if k.Type() == cty.String {
					n += int64(len(k.AsString()))
				}
				walk(e)
			}
		}
	}
	walk(v)
	return n
}

// elementCount is the number of elements of a known collection, 0 for
// anything else.
func elementCount(v cty.Value) int64 {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() || !v.CanIterateElements() {
		return 0
	}
	return int64(v.LengthInt())
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
