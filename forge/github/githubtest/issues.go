package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

var created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func (c *call) number(name string) (int, bool) {
	n, err := strconv.Atoi(c.r.PathValue(name))
	if err != nil || n < 1 {
		c.fail(http.StatusNotFound, "Not Found")
		return 0, false
	}
	return n, true
}

func (c *call) htmlBase() string {
	return c.s.URL + "/" + c.r.PathValue("owner") + "/" + c.r.PathValue("repo")
}

// exists reports whether number is an issue or a pull request.
func (c *call) exists(n int) bool {
	return slices.ContainsFunc(c.rs.issues, func(i *Issue) bool { return i.Number == n }) ||
		slices.ContainsFunc(c.rs.pulls, func(p *PullRequest) bool { return p.Number == n })
}

func (c *call) commentJSON(cm *Comment) map[string]any {
	return map[string]any{"id": cm.ID, "node_id": fmt.Sprintf("IC_%d", cm.ID), "body": cm.Body,
		"html_url":   fmt.Sprintf("%s/issues/%d#issuecomment-%d", c.htmlBase(), cm.Number, cm.ID),
		"user":       map[string]any{"login": "driftless-bot", "type": "Bot"},
		"created_at": created, "updated_at": created}
}

func listComments(c *call) {
	n, ok := c.number("number")
	if !ok {
		return
	}
	if !c.exists(n) {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	var all []*Comment
	for _, cm := range c.rs.comments {
		if cm.Number == n {
			all = append(all, cm)
		}
	}
	lo, hi, ok := c.paginate(len(all))
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, cm := range all[lo:hi] {
		out = append(out, c.commentJSON(cm))
	}
	c.reply(http.StatusOK, out)
}

var commentSchema = schema{"body": {kind: kString, required: true, max: maxBody}}

func createComment(c *call) {
	n, ok := c.number("number")
	if !ok || !c.body(commentSchema) {
		return
	}
	if !c.exists(n) {
		c.fail(http.StatusNotFound, "Not Found")
		return
	}
	c.s.ids++
	cm := &Comment{ID: c.s.ids, Number: n, Body: str(c.req.Body, "body")}
	c.rs.comments = append(c.rs.comments, cm)
	c.reply(http.StatusCreated, c.commentJSON(cm))
}

func editComment(c *call) {
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err != nil || !c.body(commentSchema) {
		if err != nil {
			c.fail(http.StatusNotFound, "Not Found")
		}
		return
	}
	for _, cm := range c.rs.comments {
		if cm.ID == id {
			cm.Body = str(c.req.Body, "body")
			c.reply(http.StatusOK, c.commentJSON(cm))
			return
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
}

func (c *call) issueJSON(is *Issue) map[string]any {
	labels := []map[string]any{}
	for _, l := range is.Labels {
		labels = append(labels, map[string]any{"name": l})
	}
	return map[string]any{"number": is.Number, "title": is.Title, "body": is.Body, "state": is.State, "labels": labels,
		"html_url": fmt.Sprintf("%s/issues/%d", c.htmlBase(), is.Number), "created_at": created}
}

func (c *call) pullJSON(p *PullRequest) map[string]any {
	owner := c.r.PathValue("owner")
	return map[string]any{"number": p.Number, "title": p.Title, "body": p.Body, "state": p.State,
		"html_url": fmt.Sprintf("%s/pull/%d", c.htmlBase(), p.Number),
		"head":     map[string]any{"ref": p.Head, "label": owner + ":" + p.Head, "sha": p.HeadSHA},
		"base":     map[string]any{"ref": p.Base, "label": owner + ":" + p.Base}, "created_at": created}
}

// listIssues lists issues and, as GitHub does, pull requests (marked by a
// pull_request key), newest first.
func listIssues(c *call) {
	q := c.req.Query
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	var want []string
	if l := q.Get("labels"); l != "" {
		want = strings.Split(l, ",")
	}
	var all []map[string]any
	for i := len(c.rs.issues) - 1; i >= 0; i-- {
		is := c.rs.issues[i]
		if (state == "all" || is.State == state) && hasAll(is.Labels, want) {
			all = append(all, c.issueJSON(is))
		}
	}
	for i := len(c.rs.pulls) - 1; i >= 0; i-- {
		p := c.rs.pulls[i]
		if (state == "all" || p.State == state) && len(want) == 0 {
			is := c.issueJSON(&Issue{Number: p.Number, Title: p.Title, Body: p.Body, State: p.State})
			is["pull_request"] = map[string]any{"html_url": fmt.Sprintf("%s/pull/%d", c.htmlBase(), p.Number)}
			all = append(all, is)
		}
	}
	lo, hi, ok := c.paginate(len(all))
	if !ok {
		return
	}
	c.reply(http.StatusOK, append([]map[string]any{}, all[lo:hi]...))
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, strings.TrimSpace(w)) {
			return false
		}
	}
	return true
}

var issueFields = schema{"title": {kind: kString}, "body": {kind: kString, max: maxBody}, "labels": {kind: kLabels},
	"assignee": {kind: kStrOrNull}, "assignees": {kind: kStrings}, "milestone": {kind: kInt}, "type": {kind: kStrOrNull},
	"state": {kind: kString, enum: []string{"open", "closed"}}, "state_reason": {kind: kStrOrNull}}

func createIssue(c *call) {
	sc := schema{}
	for k, f := range issueFields {
		if k != "state" && k != "state_reason" {
			sc[k] = f
		}
	}
	sc["title"] = field{kind: kString, required: true}
	if !c.body(sc) {
		return
	}
	c.rs.next++
	is := &Issue{Number: c.rs.next, Title: str(c.req.Body, "title"), Body: str(c.req.Body, "body"), State: "open",
		Labels: stringList(c.req.Body, "labels")}
	c.rs.issues = append(c.rs.issues, is)
	c.reply(http.StatusCreated, c.issueJSON(is))
}

func editIssue(c *call) {
	n, ok := c.number("number")
	if !ok || !c.body(issueFields) {
		return
	}
	for _, is := range c.rs.issues {
		if is.Number != n {
			continue
		}
		b := c.req.Body
		if _, ok := b["title"]; ok {
			is.Title = str(b, "title")
		}
		if _, ok := b["body"]; ok {
			is.Body = str(b, "body")
		}
		if _, ok := b["state"]; ok {
			is.State = str(b, "state")
		}
		if _, ok := b["labels"]; ok {
			is.Labels = stringList(b, "labels")
		}
		c.reply(http.StatusOK, c.issueJSON(is))
		return
	}
	c.fail(http.StatusNotFound, "Not Found")
}

func listPulls(c *call) {
	q := c.req.Query
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	head := q.Get("head")
	owner := c.r.PathValue("owner")
	if head != "" && !strings.Contains(head, ":") {
		c.malformed(http.StatusUnprocessableEntity, "head %q is not in the form user:ref-name", head)
		return
	}
	var all []*PullRequest
	for i := len(c.rs.pulls) - 1; i >= 0; i-- {
		p := c.rs.pulls[i]
		if (state == "all" || p.State == state) && (head == "" || head == owner+":"+p.Head) &&
			(q.Get("base") == "" || q.Get("base") == p.Base) {
			all = append(all, p)
		}
	}
	lo, hi, ok := c.paginate(len(all))
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, p := range all[lo:hi] {
		out = append(out, c.pullJSON(p))
	}
	c.reply(http.StatusOK, out)
}

func createPull(c *call) {
	if !c.body(schema{"title": {kind: kString, required: true}, "head": {kind: kString, required: true},
		"head_repo": {kind: kString}, "base": {kind: kString, required: true}, "body": {kind: kString, max: maxBody},
		"maintainer_can_modify": {kind: kBool}, "draft": {kind: kBool}, "issue": {kind: kInt}}) {
		return
	}
	b := c.req.Body
	head, base := str(b, "head"), str(b, "base")
	if _, ref, ok := strings.Cut(head, ":"); ok {
		head = ref
	}
	if head == base {
		c.fail(http.StatusUnprocessableEntity, "Validation Failed: No commits between "+base+" and "+head)
		return
	}
	for _, p := range c.rs.pulls {
		if p.State == "open" && p.Head == head && p.Base == base {
			c.fail(http.StatusUnprocessableEntity, "Validation Failed: A pull request already exists for "+c.r.PathValue("owner")+":"+head+".")
			return
		}
	}
	c.rs.next++
	p := &PullRequest{Number: c.rs.next, Head: head, Base: base, Title: str(b, "title"), Body: str(b, "body"), State: "open"}
	c.rs.pulls = append(c.rs.pulls, p)
	c.reply(http.StatusCreated, c.pullJSON(p))
}

func getPull(c *call) {
	n, ok := c.number("number")
	if !ok {
		return
	}
	for _, p := range c.rs.pulls {
		if p.Number == n {
			c.reply(http.StatusOK, c.pullJSON(p))
			return
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
}

func editPull(c *call) {
	n, ok := c.number("number")
	if !ok || !c.body(schema{"title": {kind: kString}, "body": {kind: kString, max: maxBody},
		"state": {kind: kString, enum: []string{"open", "closed"}}, "base": {kind: kString}, "maintainer_can_modify": {kind: kBool}}) {
		return
	}
	for _, p := range c.rs.pulls {
		if p.Number != n {
			continue
		}
		b := c.req.Body
		if _, ok := b["title"]; ok {
			p.Title = str(b, "title")
		}
		if _, ok := b["body"]; ok {
			p.Body = str(b, "body")
		}
		if _, ok := b["state"]; ok {
			p.State = str(b, "state")
		}
		if _, ok := b["base"]; ok {
			p.Base = str(b, "base")
		}
		c.reply(http.StatusOK, c.pullJSON(p))
		return
	}
	c.fail(http.StatusNotFound, "Not Found")
}
