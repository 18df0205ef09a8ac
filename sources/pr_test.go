package sources

import "testing"

func TestParsePR(t *testing.T) {
	tests := []struct {
		name, msg string
		want      int
	}{
		{"github merge", "Merge pull request #123 from acme/feature\n\nAdd things", 123},
		{"github squash", "Add the thing (#456)\n\n* commit one\n* commit two", 456},
		{"squash trailing space", "Add the thing (#7)  ", 7},
		{"azure devops", "Merged PR 789: Add the thing", 789},
		{"bitbucket", "Merged in feature/x (pull request #12)\n\nApproved-by: someone", 12},
		{"gitlab", "Merge branch 'feature' into 'main'\n\nAdd the thing\n\nSee merge request acme/platform!42", 42},
		{"gitlab subgroup", "Merge branch 'x'\n\nSee merge request acme/infra/platform!9\n", 9},
		{"plain commit", "Fix typo in README", 0},
		{"empty", "", 0},
		{"issue reference in body only", "Fix crash\n\nFixes (#99)", 0},
		{"hash not at end of first line", "Revert (#12) partially", 0},
		{"merge without number", "Merge branch 'main' into feature", 0},
		{"number too large", "Title (#99999999999999999999999)", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParsePR(tt.msg); got != tt.want {
				t.Errorf("ParsePR(%q) = %d, want %d", tt.msg, got, tt.want)
			}
		})
	}
}
