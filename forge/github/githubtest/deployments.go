package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

func createStatus(c *call) {
	if !c.body(schema{"state": {kind: kString, required: true, enum: []string{"error", "failure", "pending", "success"}},
		"target_url": {kind: kStrOrNull}, "description": {kind: kStrOrNull, max: maxDescription}, "context": {kind: kString}}) {
		return
	}
	b := c.req.Body
	st := CommitStatus{SHA: c.r.PathValue("sha"), State: str(b, "state"), Context: str(b, "context"),
		Description: str(b, "description"), TargetURL: str(b, "target_url")}
	if st.Context == "" {
		st.Context = "default"
	}
	c.rs.statuses = append(c.rs.statuses, st)
	c.s.ids++
	c.reply(http.StatusCreated, map[string]any{"id": c.s.ids, "state": st.State, "context": st.Context,
		"description": st.Description, "target_url": st.TargetURL, "created_at": created})
}

func (c *call) deploymentJSON(d *Deployment) map[string]any {
	base := fmt.Sprintf("%s/api/v3/repos/%s/%s/deployments/%d", c.s.URL, c.r.PathValue("owner"), c.r.PathValue("repo"), d.ID)
	return map[string]any{"id": d.ID, "node_id": fmt.Sprintf("DE_%d", d.ID), "sha": d.Ref, "ref": d.Ref, "task": "deploy",
		"payload": d.Payload, "environment": d.Environment, "original_environment": d.Environment,
		"description": d.Description, "url": base, "statuses_url": base + "/statuses",
		"transient_environment": d.TransientEnvironment, "production_environment": d.ProductionEnvironment,
		"creator": map[string]any{"login": "driftless-bot"}, "created_at": created, "updated_at": created}
}

func listDeployments(c *call) {
	q := c.req.Query
	var all []*Deployment
	for i := len(c.rs.deployments) - 1; i >= 0; i-- { // newest first
		d := c.rs.deployments[i]
		if (q.Get("sha") == "" || q.Get("sha") == d.Ref) && (q.Get("ref") == "" || q.Get("ref") == d.Ref) &&
			(q.Get("environment") == "" || q.Get("environment") == d.Environment) &&
			(q.Get("task") == "" || q.Get("task") == "deploy") {
			all = append(all, d)
		}
	}
	lo, hi, ok := c.paginate(len(all))
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, d := range all[lo:hi] {
		out = append(out, c.deploymentJSON(d))
	}
	c.reply(http.StatusOK, out)
}

// createDeployment creates a deployment. As on GitHub, leaving
// required_contexts out requires every commit status context of the ref
// to be successful (409 otherwise).
func createDeployment(c *call) {
	if !c.body(schema{"ref": {kind: kString, required: true}, "task": {kind: kString}, "auto_merge": {kind: kBool},
		"required_contexts": {kind: kStrings}, "payload": {kind: kObjOrStr}, "environment": {kind: kString},
		"description": {kind: kStrOrNull, max: maxDescription}, "transient_environment": {kind: kBool},
		"production_environment": {kind: kBool}}) {
		return
	}
	b := c.req.Body
	d := &Deployment{Ref: str(b, "ref"), Environment: str(b, "environment"), Description: str(b, "description"),
		AutoMerge: boolean(b, "auto_merge", true), TransientEnvironment: boolean(b, "transient_environment", false)}
	if d.Environment == "" {
		d.Environment = "production"
	}
	d.ProductionEnvironment = boolean(b, "production_environment", d.Environment == "production")
	if _, ok := b["required_contexts"]; ok {
		d.RequiredContexts = stringList(b, "required_contexts")
	} else {
		for _, st := range c.rs.statuses {
			if st.SHA == d.Ref && st.State != "success" {
				c.fail(http.StatusConflict, fmt.Sprintf("Conflict: Commit status checks failed for %s.", d.Ref))
				return
			}
		}
	}
	switch p := b["payload"].(type) {
	case map[string]any:
		d.Payload = p
	case string:
		if err := json.Unmarshal([]byte(p), &d.Payload); err != nil {
			c.malformed(http.StatusUnprocessableEntity, "payload is a string that is not a JSON object")
			return
		}
	default:
		d.Payload = map[string]any{}
	}
	c.s.ids++
	d.ID = c.s.ids
	c.rs.deployments = append(c.rs.deployments, d)
	c.reply(http.StatusCreated, c.deploymentJSON(d))
}

func (c *call) deployment() (*Deployment, bool) {
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err == nil {
		for _, d := range c.rs.deployments {
			if d.ID == id {
				return d, true
			}
		}
	}
	c.fail(http.StatusNotFound, "Not Found")
	return nil, false
}

func statusJSON(st DeploymentStatus) map[string]any {
	return map[string]any{"id": st.ID, "state": st.State, "description": st.Description,
		"environment_url": st.EnvironmentURL, "log_url": st.LogURL, "created_at": created}
}

func listDeploymentStatuses(c *call) {
	d, ok := c.deployment()
	if !ok {
		return
	}
	lo, hi, ok := c.paginate(len(d.Statuses))
	if !ok {
		return
	}
	out := []map[string]any{}
	for i := len(d.Statuses) - 1 - lo; i >= len(d.Statuses)-hi; i-- { // newest first
		out = append(out, statusJSON(d.Statuses[i]))
	}
	c.reply(http.StatusOK, out)
}

// createDeploymentStatus adds a status; a success with auto_inactive (the
// default) turns the environment's other successful deployments inactive.
func createDeploymentStatus(c *call) {
	d, ok := c.deployment()
	if !ok || !c.body(schema{"state": {kind: kString, required: true,
		enum: []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}},
		"target_url": {kind: kString}, "log_url": {kind: kString}, "description": {kind: kString, max: maxDescription},
		"environment": {kind: kString}, "environment_url": {kind: kString}, "auto_inactive": {kind: kBool}}) {
		return
	}
	b := c.req.Body
	c.s.ids++
	st := DeploymentStatus{ID: c.s.ids, State: str(b, "state"), Description: str(b, "description"),
		EnvironmentURL: str(b, "environment_url"), LogURL: str(b, "log_url"), AutoInactive: boolean(b, "auto_inactive", true)}
	d.Statuses = append(d.Statuses, st)
	if st.State == "success" && st.AutoInactive {
		for _, o := range c.rs.deployments {
			if o != d && o.Environment == d.Environment && len(o.Statuses) > 0 && o.Statuses[len(o.Statuses)-1].State == "success" {
				c.s.ids++
				o.Statuses = append(o.Statuses, DeploymentStatus{ID: c.s.ids, State: "inactive"})
			}
		}
	}
	c.reply(http.StatusCreated, statusJSON(st))
}
