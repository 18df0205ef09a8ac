package dropexec

import (
	"slices"
	"testing"
)

func TestParseAs(t *testing.T) {
	for in, ok := range map[string]bool{"1000:1000": true, "0:0": true, "1000": false, "a:1": false, "1:-1": false, "": false} {
		_, _, err := ParseAs(in)
		if (err == nil) != ok {
			t.Errorf("ParseAs(%q): err = %v", in, err)
		}
	}
	if u, g, _ := ParseAs("12:34"); u != 12 || g != 34 {
		t.Errorf("ParseAs(12:34) = %d, %d", u, g)
	}
}

func TestCleanEnv(t *testing.T) {
	got := cleanEnv([]string{"PATH=/bin", EnvTerraform + "=/t", EnvAs + "=1:1", "HOME=/h"})
	if !slices.Equal(got, []string{"PATH=/bin", "HOME=/h"}) {
		t.Errorf("cleanEnv = %v", got)
	}
	if e := Env("/t", 5, 6); e[EnvTerraform] != "/t" || e[EnvAs] != "5:6" {
		t.Errorf("Env = %v", e)
	}
}
