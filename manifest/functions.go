package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/driftless/driftless/appliers"
)

// Functions returns the HCL functions available in manifests: the usual
// cty stdlib set, plus file() reading from tree (paths relative to the
// repository root, never outside it) and jsondecode/jsonencode. They
// enforce DefaultLimits, the time limit counting from this call.
func Functions(tree fs.FS) map[string]function.Function {
	return functions(tree, newBudget(DefaultLimits))
}

// functions returns the manifest functions sharing budget b: each checks
// the time left, refuses inputs that would build a value over the limits
// and charges its result to b (see guarded).
func functions(tree fs.FS, b *budget) map[string]function.Function {
	g := func(f function.Function) function.Function { return guarded(b, f, nil) }
	p := func(f function.Function, pre func(*budget, []cty.Value) error) function.Function {
		return guarded(b, f, pre)
	}
	return map[string]function.Function{
		"abs": g(stdlib.AbsoluteFunc), "ceil": g(stdlib.CeilFunc), "floor": g(stdlib.FloorFunc),
		"max": g(stdlib.MaxFunc), "min": g(stdlib.MinFunc), "parseint": g(checkedNumbers(stdlib.ParseIntFunc)),
		"chomp": g(stdlib.ChompFunc), "format": p(stdlib.FormatFunc, preFormat),
		"formatlist": p(stdlib.FormatListFunc, preFormatList),
		"indent":     g(indentFunc), "join": p(stdlib.JoinFunc, preJoin), "lower": g(stdlib.LowerFunc),
		"upper": g(stdlib.UpperFunc), "replace": p(stdlib.ReplaceFunc, preReplace), "regex": g(stdlib.RegexFunc),
		"regexall": p(stdlib.RegexAllFunc, preRegexAll), "split": p(stdlib.SplitFunc, preSplit),
		"strlen": g(stdlib.StrlenFunc), "substr": g(stdlib.SubstrFunc), "title": g(stdlib.TitleFunc),
		"trim": g(stdlib.TrimFunc), "trimprefix": g(stdlib.TrimPrefixFunc), "trimsuffix": g(stdlib.TrimSuffixFunc),
		"trimspace": g(stdlib.TrimSpaceFunc), "coalesce": g(stdlib.CoalesceFunc),
		"coalescelist": g(stdlib.CoalesceListFunc), "compact": g(stdlib.CompactFunc),
		"concat": p(stdlib.ConcatFunc, preSumElements), "contains": g(stdlib.ContainsFunc),
		"distinct": g(stdlib.DistinctFunc), "element": g(stdlib.ElementFunc),
		"flatten": p(stdlib.FlattenFunc, preFlatten), "keys": g(stdlib.KeysFunc),
		"length": g(stdlib.LengthFunc), "lookup": g(stdlib.LookupFunc), "merge": p(stdlib.MergeFunc, preSumElements),
		"range": g(stdlib.RangeFunc), "reverse": g(stdlib.ReverseListFunc), "slice": g(stdlib.SliceFunc),
		"sort": g(stdlib.SortFunc), "values": g(stdlib.ValuesFunc), "zipmap": g(stdlib.ZipmapFunc),
		"jsondecode": p(checkedNumbers(stdlib.JSONDecodeFunc), preJSON),
		"jsonencode": p(stdlib.JSONEncodeFunc, preEncode),
		"csvdecode":  p(stdlib.CSVDecodeFunc, preCountBytes(",\n")),
		"tostring":   g(stdlib.MakeToFunc(cty.String)), "tonumber": g(checkedNumbers(stdlib.MakeToFunc(cty.Number))),
		"tobool": g(stdlib.MakeToFunc(cty.Bool)), "tolist": g(stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType))),
		"tomap":      g(stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType))),
		"file":       fileFunc(tree, b),
		"fileexists": fileExistsFunc(tree),
	}
}

func fileFunc(tree fs.FS, b *budget) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if err := b.errTime(); err != nil {
				return cty.NilVal, err
			}
			p, err := appliers.CleanPath(args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			data, err := readLimited(tree, p, b)
			var limit *limitError
			switch {
			case errors.As(err, &limit):
				return cty.NilVal, limit
			case errors.Is(err, appliers.ErrOutsideRepo):
				return cty.NilVal, fmt.Errorf("file %q leads outside the repository through a symbolic link", p)
			case errors.Is(err, fs.ErrNotExist):
				return cty.NilVal, fmt.Errorf("file %q does not exist in the repository", p)
			case err != nil:
				return cty.NilVal, fmt.Errorf("reading %q: %w", p, err)
			}
			return cty.StringVal(string(data)), nil
		},
	})
}

// limitError is a limit of the budget exceeded.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

// readLimited reads file p of tree, refusing a file larger than the file
// limit (without reading it: trees read a file whole when it is opened)
// and reads beyond the total limit.
func readLimited(tree fs.FS, p string, b *budget) ([]byte, error) {
	tooBig := func(size int64) error {
		return &limitError{fmt.Sprintf("%q is %d bytes long, more than the %s allowed", p, size, bytesString(b.lim.FileBytes))}
	}
	if fi, err := fs.Stat(tree, p); err != nil {
		return nil, err
	} else if fi.Size() > b.lim.FileBytes {
		return nil, tooBig(fi.Size())
	}
	f, err := tree.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, b.lim.FileBytes+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > b.lim.FileBytes {
		return nil, tooBig(int64(len(data)))
	}
	if err := b.chargeRead(int64(len(data)), fmt.Sprintf("%q", p)); err != nil {
		return nil, &limitError{err.Error()}
	}
	return data, nil
}

func fileExistsFunc(tree fs.FS) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, err := appliers.CleanPath(args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			fi, err := fs.Stat(tree, p)
			return cty.BoolVal(err == nil && !fi.IsDir()), nil
		},
	})
}
