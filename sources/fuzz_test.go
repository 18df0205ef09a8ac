package sources

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParsePR checks that ParsePR never panics, never returns a negative
// number, and that a number it returns is written in the message.
func FuzzParsePR(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg string) {
		n := ParsePR(msg)
		if n < 0 {
			t.Fatalf("ParsePR(%q) = %d, want >= 0", msg, n)
		}
		if n > 0 && !strings.Contains(msg, strconv.Itoa(n)) {
			t.Fatalf("ParsePR(%q) = %d, a number the message does not contain", msg, n)
		}
	})
}
