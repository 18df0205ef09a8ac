package notify

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestCatalogueMatchesREADME checks the README's events table (the product
// contract) against the catalogue: the same categories, in order, with the
// same actions.
func TestCatalogueMatchesREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "| category | actions |")
	if !ok {
		t.Fatal("README has no events table")
	}
	row := regexp.MustCompile("^\\| `([a-z_]+)` \\| (.*) \\|$")
	action := regexp.MustCompile("(?:^|, |— )`([a-z_]+)`")
	var cats []string
	for _, line := range strings.Split(table, "\n")[2:] {
		m := row.FindStringSubmatch(line)
		if m == nil {
			break
		}
		cats = append(cats, m[1])
		var acts []string
		for _, a := range action.FindAllStringSubmatch(m[2], -1) {
			acts = append(acts, a[1])
		}
		if got := Actions(m[1]); !slices.Equal(acts, got) {
			t.Errorf("README lists %s actions %v, the catalogue %v", m[1], acts, got)
		}
	}
	if !slices.Equal(cats, Categories()) {
		t.Errorf("README lists categories %v, the catalogue %v", cats, Categories())
	}
}

func TestCatalogue(t *testing.T) {
	if !Known(CatDeploy, ActSucceeded) || Known(CatDrift, ActFailed) || Known("test", "marker") {
		t.Error("Known disagrees with the catalogue")
	}
	if Actions("nope") != nil {
		t.Error("Actions of an unknown category")
	}
	a := Actions(CatPlan)
	a[0] = "x"
	if Actions(CatPlan)[0] != ActReady {
		t.Error("Actions exposes the catalogue for writing")
	}
	if n := len(Types()); n != 16 {
		t.Errorf("%d types, want 16", n)
	}
}
