package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTmpSlow(t *testing.T) {
	l := fuzzLoader()
	for _, dir := range []string{"testdata/fuzz/FuzzLoad", os.Getenv("FUZZCACHE")} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
			var args [][]byte
			for _, ln := range lines {
				ln = strings.TrimSuffix(strings.TrimPrefix(ln, "[]byte("), ")")
				s, err := strconv.Unquote(ln)
				if err != nil {
					t.Fatal(e.Name(), err)
				}
				args = append(args, []byte(s))
			}
			st := time.Now()
			l.Load("platform", fuzzTree(args[0], args[1]), fuzzDir)
			if d := time.Since(st); d > 50*time.Millisecond {
				fmt.Println(e.Name(), d)
			}
		}
	}
}
