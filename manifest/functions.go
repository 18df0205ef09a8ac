package manifest

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/driftless/driftless/appliers"
)

// Functions returns the HCL functions available in manifests: the usual
// cty stdlib set, plus file() reading from tree (paths relative to the
// repository root, never outside it) and jsondecode/jsonencode.
func Functions(tree fs.FS) map[string]function.Function {
	return map[string]function.Function{
		"abs": stdlib.AbsoluteFunc, "ceil": stdlib.CeilFunc, "floor": stdlib.FloorFunc,
		"max": stdlib.MaxFunc, "min": stdlib.MinFunc, "parseint": checkedNumbers(stdlib.ParseIntFunc),
		"chomp": stdlib.ChompFunc, "format": stdlib.FormatFunc, "formatlist": stdlib.FormatListFunc,
		"indent": indentFunc, "join": stdlib.JoinFunc, "lower": stdlib.LowerFunc,
		"upper": stdlib.UpperFunc, "replace": stdlib.ReplaceFunc, "regex": stdlib.RegexFunc,
		"regexall": stdlib.RegexAllFunc, "split": stdlib.SplitFunc, "strlen": stdlib.StrlenFunc,
		"substr": stdlib.SubstrFunc, "title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
		"trimspace": stdlib.TrimSpaceFunc, "coalesce": stdlib.CoalesceFunc,
		"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
		"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc, "distinct": stdlib.DistinctFunc,
		"element": stdlib.ElementFunc, "flatten": stdlib.FlattenFunc, "keys": stdlib.KeysFunc,
		"length": stdlib.LengthFunc, "lookup": stdlib.LookupFunc, "merge": stdlib.MergeFunc,
		"range": stdlib.RangeFunc, "reverse": stdlib.ReverseListFunc, "slice": stdlib.SliceFunc,
		"sort": stdlib.SortFunc, "values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
		"jsondecode": checkedNumbers(stdlib.JSONDecodeFunc), "jsonencode": stdlib.JSONEncodeFunc,
		"csvdecode": stdlib.CSVDecodeFunc,
		"tostring":  stdlib.MakeToFunc(cty.String), "tonumber": checkedNumbers(stdlib.MakeToFunc(cty.Number)),
		"tobool": stdlib.MakeToFunc(cty.Bool), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":      stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"file":       fileFunc(tree),
		"fileexists": fileExistsFunc(tree),
	}
}

func fileFunc(tree fs.FS) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p, err := appliers.CleanPath(args[0].AsString())
			if err != nil {
				return cty.NilVal, err
			}
			b, err := fs.ReadFile(tree, p)
			switch {
			case errors.Is(err, appliers.ErrOutsideRepo):
				return cty.NilVal, fmt.Errorf("file %q leads outside the repository through a symbolic link", p)
			case errors.Is(err, fs.ErrNotExist):
				return cty.NilVal, fmt.Errorf("file %q does not exist in the repository", p)
			case err != nil:
				return cty.NilVal, fmt.Errorf("reading %q: %w", p, err)
			}
			return cty.StringVal(string(b)), nil
		},
	})
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
