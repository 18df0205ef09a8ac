// Package manifest loads the desired state of one revision of a watched
// repository: every *.hcl file under the repo's manifest path, decoded with
// hashicorp/hcl/v2.
//
// The loader reads top-level blocks and hands each body to the applier that
// owns its type, so a new target is a new applier, not a change here. It
// handles what every block shares — the app name, depends_on, the drift
// settings — and the references between blocks (stack.NAME.outputs.KEY),
// which become dependency edges. A revision with any error is rejected
// whole, with every diagnostic as "file:line:col: message".
//
// # Limits
//
// Whoever can merge to a watched branch makes the controller evaluate
// HCL, so every evaluation — each Load, each Decode — runs under a budget,
// Loader.Limits (DefaultLimits unless changed):
//
//   - FileBytes, 4 MiB: the largest manifest file and the largest file
//     file() reads (a bigger file is refused without being read);
//   - ReadBytes, 32 MiB: manifests and file() reads in all, every call
//     counting;
//   - StringBytes, 4 MiB: the longest string a function builds (format,
//     formatlist, join, replace, indent, jsonencode, …);
//   - FunctionBytes, 64 MiB: the values all function calls return, in all,
//     and the bytes the for expressions of one attribute repeat (string
//     literals, values of iterator variables);
//   - Elements, 100000: the elements a function returns (split, regexall,
//     concat, merge, flatten, jsondecode, csvdecode), and the elements the
//     for expressions of one attribute produce, nested ones multiplying;
//     range() has the cty stdlib's own limit of 1024;
//   - FormatWidth, 1024: widths and precisions in format verbs;
//   - Time, 10 s, checked in every function call, while counting for
//     expressions and between blocks.
//
// Functions refuse inputs that would go over a limit before building
// anything; for expressions are counted before the block is evaluated
// (see checkFors). Going over a limit is an error at the offending
// expression ("Evaluation limit exceeded", or "Error in function call"
// naming the limit), so the revision is rejected and the last good one
// keeps running. Nesting deeper than 256 and numbers beyond about 1e±300
// are refused as the file is parsed. A panic while an applier decodes a
// block is an "Internal error" at the block, not a crash.
package manifest
