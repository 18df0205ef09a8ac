package manifest

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// guarded wraps f so that every call first checks the evaluation's time
// and what is left of its budget, then runs pre on the (unmarked)
// arguments, which refuses inputs that would build a value over the
// limits before anything is built, and charges the result to the budget.
// pre runs when the result type is computed, before the call itself:
// some functions (jsondecode) do the expensive work already there.
func guarded(b *budget, f function.Function, pre func(b *budget, args []cty.Value) error) function.Function {
	check := func(args []cty.Value) error {
		if err := b.errSpent(); err != nil {
			return err
		}
		if pre == nil {
			return nil
		}
		plain := make([]cty.Value, len(args))
		for i, a := range args {
			plain[i], _ = a.UnmarkDeep()
		}
		return pre(b, plain)
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      f.Params(),
		VarParam:    f.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			if err := check(args); err != nil {
				return cty.NilType, err
			}
			return f.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if err := b.errSpent(); err != nil {
				return cty.NilVal, err
			}
			v, err := f.Call(args)
			if err != nil {
				return cty.NilVal, err
			}
			if err := b.chargeResult(v); err != nil {
				return cty.NilVal, err
			}
			return v, nil
		},
	})
}

// known reports whether v is a known, non-null value.
func known(v cty.Value) bool { return v.IsKnown() && !v.IsNull() }

func tooLong(n, limit int64) error {
	return fmt.Errorf("the result would be about %d bytes long, more than the %s allowed", n, bytesString(limit))
}

func tooMany(n, limit int64) error {
	return fmt.Errorf("the result would have at least %d elements, more than the %d allowed", n, limit)
}

// formatWidths checks the widths and precisions of the verbs of a format
// string and returns their sum.
func formatWidths(b *budget, f string) (int64, error) {
	var sum int64
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			i++
			continue
		}
		// Every number between % and the verb letter: argument index,
		// width, precision.
		for i++; i < len(f) && !isASCIILetter(f[i]); i++ {
			if f[i] < '0' || f[i] > '9' {
				continue
			}
			j := i
			for j < len(f) && f[j] >= '0' && f[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(f[i:j])
			if err != nil || n > b.lim.FormatWidth {
				return 0, fmt.Errorf("%q: widths and precisions in format verbs are at most %d", f[i-1:min(j+1, len(f))], b.lim.FormatWidth)
			}
			sum += int64(n)
			i = j - 1
		}
	}
	return sum, nil
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// preFormat: format(spec, args...).
func preFormat(b *budget, args []cty.Value) error {
	if !known(args[0]) {
		return nil
	}
	_, err := formatWidths(b, args[0].AsString())
	return err
}

// preFormatList: formatlist(spec, args...) formats once per element of its
// list arguments.
func preFormatList(b *budget, args []cty.Value) error {
	if !known(args[0]) {
		return nil
	}
	spec := args[0].AsString()
	widths, err := formatWidths(b, spec)
	if err != nil {
		return err
	}
	n, size := int64(1), int64(0)
	for _, a := range args[1:] {
		if ty := a.Type(); ty.IsListType() || ty.IsTupleType() || ty.IsSetType() {
			n = max(n, elementCount(a))
		}
		size += valueSize(a, b.lim.StringBytes+1)
	}
	if est := n*(int64(len(spec))+widths) + size; est > b.lim.StringBytes {
		return tooLong(est, b.lim.StringBytes)
	}
	return nil
}

// preJoin: join(sep, lists...).
func preJoin(b *budget, args []cty.Value) error {
	if !known(args[0]) {
		return nil
	}
	sep := int64(len(args[0].AsString()))
	var est int64
	for _, l := range args[1:] {
		est += valueSize(l, b.lim.StringBytes+1) + sep*elementCount(l)
		if est > b.lim.StringBytes {
			return tooLong(est, b.lim.StringBytes)
		}
	}
	return nil
}

// preReplace: replace(s, substr, replacement), a plain substring.
func preReplace(b *budget, args []cty.Value) error {
	if !known(args[0]) || !known(args[1]) || !known(args[2]) {
		return nil
	}
	s, sub, rep := args[0].AsString(), args[1].AsString(), args[2].AsString()
	if len(rep) <= len(sub) {
		return nil
	}
	est := int64(len(s)) + int64(strings.Count(s, sub))*int64(len(rep)-len(sub))
	if est > b.lim.StringBytes {
		return tooLong(est, b.lim.StringBytes)
	}
	return nil
}

// preSplit: split(sep, s).
func preSplit(b *budget, args []cty.Value) error {
	if !known(args[0]) || !known(args[1]) {
		return nil
	}
	if n := int64(strings.Count(args[1].AsString(), args[0].AsString())) + 1; n > b.lim.Elements {
		return tooMany(n, b.lim.Elements)
	}
	return nil
}

// preRegexAll: regexall(pattern, s).
func preRegexAll(b *budget, args []cty.Value) error {
	if !known(args[0]) || !known(args[1]) {
		return nil
	}
	re, err := regexp.Compile(args[0].AsString())
	if err != nil {
		return nil // the function reports it
	}
	if n := int64(len(re.FindAllStringIndex(args[1].AsString(), int(b.lim.Elements)+1))); n > b.lim.Elements {
		return tooMany(n, b.lim.Elements)
	}
	return nil
}

// preSumElements: concat(lists...), merge(maps...).
func preSumElements(b *budget, args []cty.Value) error {
	var n int64
	for _, a := range args {
		if n += elementCount(a); n > b.lim.Elements {
			return tooMany(n, b.lim.Elements)
		}
	}
	return nil
}

// preFlatten: flatten(list) has as many elements as the leaves of list.
func preFlatten(b *budget, args []cty.Value) error {
	var n int64
	var walk func(v cty.Value)
	walk = func(v cty.Value) {
		if ty := v.Type(); known(v) && (ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) {
			for it := v.ElementIterator(); it.Next() && n <= b.lim.Elements; {
				_, e := it.Element()
				walk(e)
			}
			return
		}
		n++
	}
	walk(args[0])
	if n > b.lim.Elements {
		return tooMany(n, b.lim.Elements)
	}
	return nil
}

// preCountBytes refuses a string argument holding more than the element
// limit of the bytes in chars, each of which may start a value
// (jsondecode: "[{,", csvdecode: ",\n").
func preCountBytes(chars string) func(b *budget, args []cty.Value) error {
	return func(b *budget, args []cty.Value) error {
		if !known(args[0]) {
			return nil
		}
		s := args[0].AsString()
		if int64(len(s)) > b.lim.FileBytes {
			return fmt.Errorf("the argument is %d bytes long, more than the %s allowed", len(s), bytesString(b.lim.FileBytes))
		}
		var n int64
		for i := 0; i < len(s); i++ {
			if strings.IndexByte(chars, s[i]) >= 0 {
				n++
			}
		}
		if n > b.lim.Elements {
			return tooMany(n, b.lim.Elements)
		}
		return nil
	}
}

// preEncode: jsonencode(v) is about as long as v is large.
func preEncode(b *budget, args []cty.Value) error {
	if n := valueSize(args[0], b.lim.StringBytes+1); n > b.lim.StringBytes {
		return tooLong(n, b.lim.StringBytes)
	}
	return nil
}

// preJSON: jsondecode(s) makes a value per "[", "{" and ","; decoding
// recurses as deep as arrays and objects nest, which is bounded like the
// nesting of manifests (maxNesting).
func preJSON(b *budget, args []cty.Value) error {
	if err := preCountBytes("[{,")(b, args); err != nil || !known(args[0]) {
		return err
	}
	s := args[0].AsString()
	depth, inString := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			if depth++; depth > maxNesting {
				return fmt.Errorf("arrays and objects nest more than %d deep", maxNesting)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}
