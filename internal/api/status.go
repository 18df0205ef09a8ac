package api

import (
	"bytes"
	"html/template"
	"net/http"
	"time"
)

// statusTmpl is a placeholder status page; html/template escapes every value.
var statusTmpl = template.Must(template.New("status").Funcs(template.FuncMap{
	"short": shortRev,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>driftless</title></head>
<body>
<h1>driftless</h1>
<table>
<thead><tr><th>App</th><th>Kind</th><th>Status</th><th>Desired</th><th>Applied</th><th>Updated</th><th>Last error</th></tr></thead>
<tbody>
{{- range .}}
<tr><td>{{.Repo}}/{{.App}}</td><td>{{.Kind}}</td><td>{{.Status}}</td><td>{{short .DesiredRevision}}</td><td>{{short .AppliedRevision}}</td><td>{{when .UpdatedAt}}</td><td>{{.LastError}}</td></tr>
{{- else}}
<tr><td colspan="7">no apps</td></tr>
{{- end}}
</tbody>
</table>
</body></html>
`))

func shortRev(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	if s == "" {
		return "-"
	}
	return s
}

// statusPage is GET /: a minimal HTML list of apps.
func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	apps, err := s.ctl.Apps(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := statusTmpl.Execute(&buf, apps); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'")
	_, _ = buf.WriteTo(w)
}
