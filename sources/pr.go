package sources

import (
	"regexp"
	"strconv"
	"strings"
)

// prPatterns match the first line of a merge or squash commit message.
var prPatterns = []*regexp.Regexp{
	regexp.MustCompile(`^Merge pull request #(\d+) from `), // GitHub merge
	regexp.MustCompile(`^Merged PR (\d+):`),                // Azure DevOps
	regexp.MustCompile(`\(pull request #(\d+)\)`),          // Bitbucket "Merged in x (pull request #12)"
	regexp.MustCompile(`\(#(\d+)\)\s*$`),                   // GitHub squash "Title (#123)"
}

// gitlabMR matches GitLab's merge-commit trailer line.
var gitlabMR = regexp.MustCompile(`(?m)^\s*See merge request [^\s!]+!(\d+)\s*$`)

// ParsePR returns the pull-request number named by a merge or squash commit
// message, or 0 when it names none. Recognised: GitHub's "Merge pull request
// #123 from …" and squash "Title (#123)" (first line), Azure DevOps's
// "Merged PR 123: …", Bitbucket's "… (pull request #123)" and GitLab's
// "See merge request group/project!123" line.
func ParsePR(message string) int {
	first, _, _ := strings.Cut(message, "\n")
	first = strings.TrimSpace(first)
	for _, re := range prPatterns {
		if m := re.FindStringSubmatch(first); m != nil {
			return atoiPR(m[1])
		}
	}
	if m := gitlabMR.FindStringSubmatch(message); m != nil {
		return atoiPR(m[1])
	}
	return 0
}

func atoiPR(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
