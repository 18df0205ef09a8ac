package githubtest

import (
	"encoding/json"
	"net/http"
	"slices"
	"unicode/utf8"
)

// Kinds of JSON values a field may hold.
const (
	kString    = "string"
	kBool      = "boolean"
	kInt       = "integer"
	kStrings   = "array of strings"
	kObjOrStr  = "object or string"
	kStrOrNull = "string or null"
	kLabels    = "array of strings or objects"
)

type field struct {
	kind     string
	required bool
	enum     []string // allowed values of a string
	max      int      // longest string, in characters (0: no limit)
}

// schema is a request body as GitHub's REST reference documents it.
type schema map[string]field

const (
	maxBody        = 65536
	maxDescription = 140
)

// body checks the request's JSON body against sc; false when it answered.
func (c *call) body(sc schema) bool {
	b := c.req.Body
	if b == nil {
		c.malformed(http.StatusBadRequest, "the body is not a JSON object")
		return false
	}
	for k := range b {
		if _, ok := sc[k]; !ok {
			c.malformed(http.StatusUnprocessableEntity, "%q is not a documented parameter", k)
			return false
		}
	}
	for k, f := range sc {
		v, ok := b[k]
		if !ok {
			if f.required {
				c.malformed(http.StatusUnprocessableEntity, "%q wasn't supplied", k)
				return false
			}
			continue
		}
		if !kindOK(f.kind, v) {
			c.malformed(http.StatusUnprocessableEntity, "%q must be %s, not %T", k, f.kind, v)
			return false
		}
		s, isStr := v.(string)
		if isStr && len(f.enum) > 0 && !slices.Contains(f.enum, s) {
			c.malformed(http.StatusUnprocessableEntity, "%q is not one of %v: %q", k, f.enum, s)
			return false
		}
		if isStr && f.max > 0 && utf8.RuneCountInString(s) > f.max {
			c.malformed(http.StatusUnprocessableEntity, "%s is too long (maximum is %d characters)", k, f.max)
			return false
		}
	}
	return true
}

func kindOK(kind string, v any) bool {
	switch kind {
	case kString:
		_, ok := v.(string)
		return ok
	case kStrOrNull:
		_, ok := v.(string)
		return ok || v == nil
	case kBool:
		_, ok := v.(bool)
		return ok
	case kInt:
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		_, err := n.Int64()
		return err == nil
	case kStrings, kLabels:
		a, ok := v.([]any)
		if !ok {
			return false
		}
		for _, e := range a {
			if _, ok := e.(string); !ok {
				if _, obj := e.(map[string]any); !(kind == kLabels && obj) {
					return false
				}
			}
		}
		return true
	case kObjOrStr:
		switch v.(type) {
		case string, map[string]any:
			return true
		}
	}
	return false
}

func str(b map[string]any, k string) string {
	s, _ := b[k].(string)
	return s
}

func boolean(b map[string]any, k string, dflt bool) bool {
	v, ok := b[k].(bool)
	if !ok {
		return dflt
	}
	return v
}

func stringList(b map[string]any, k string) []string {
	a, ok := b[k].([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, e := range a {
		switch x := e.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			out = append(out, str(x, "name"))
		}
	}
	return out
}
