package notify

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/driftless/driftless/appliers"
)

// Stream is the JetStream stream that holds every event.
const Stream = "DRIFTLESS_EVENTS"

// SubjectPrefix starts every event subject.
const SubjectPrefix = "driftless"

// Event is a CloudEvents 1.0 envelope.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Data      `json:"data"`
}

// Data is the payload of every event. Fields that do not apply are empty.
type Data struct {
	Repo             string            `json:"repo"`
	App              string            `json:"app"`
	Kind             string            `json:"kind"`
	Revision         string            `json:"revision"`
	PreviousRevision string            `json:"previous_revision"`
	Author           string            `json:"author"`
	Message          string            `json:"message"`
	PR               int               `json:"pr"`
	DeployID         string            `json:"deploy_id"`
	Changes          []appliers.Change `json:"changes"`
	DurationMS       int64             `json:"duration_ms"`
	Error            string            `json:"error"`
	Summary          string            `json:"summary,omitempty"`
	Reason           string            `json:"reason,omitempty"`      // why: commit, manual, drift, retry, rollback
	Diagnostics      []string          `json:"diagnostics,omitempty"` // source.invalid: file:line:col: message
	PlanID           string            `json:"plan_id,omitempty"`
	RepoURL          string            `json:"repo_url,omitempty"`
	Drift            []DriftItem       `json:"drift,omitempty"`
	FirstSeen        *time.Time        `json:"first_seen,omitempty"`
	Step             string            `json:"step,omitempty"`
	Extra            map[string]string `json:"extra,omitempty"`

	// Key, when set, makes the event id a hash of it instead of random, so
	// the same announcement made twice (e.g. source.updated for a revision
	// after a restart) is stored and posted once. Not serialised.
	Key string `json:"-"`
}

// DriftItem is one drifted resource and the attributes that moved.
type DriftItem struct {
	Address    string   `json:"address"`
	Attributes []string `json:"attributes,omitempty"`
	Action     string   `json:"action,omitempty"`
}

// New builds an event of category.action from data, with a fresh random id.
// instance names the controller replica (CloudEvents source driftless/<instance>).
func New(instance, category, action string, data Data) Event {
	id := NewID()
	if data.Key != "" {
		sum := sha256.Sum256([]byte(category + "." + action + "\x00" + data.Key))
		id = hex.EncodeToString(sum[:16])
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              id,
		Source:          "driftless/" + instance,
		Type:            "io.driftless." + category + "." + action,
		Subject:         subjectOf(category, data),
		Time:            time.Now().UTC(),
		DataContentType: "application/json",
		Data:            data,
	}
}

func subjectOf(category string, d Data) string {
	if category == CatSource || d.App == "" {
		return d.Repo
	}
	return d.Repo + "/" + d.App
}

// NewID returns a random 128-bit id in hex.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Category and Action split the event type.
func (e Event) Category() string { c, _ := e.split(); return c }
func (e Event) Action() string   { _, a := e.split(); return a }

func (e Event) split() (string, string) {
	t := strings.TrimPrefix(e.Type, "io.driftless.")
	c, a, _ := strings.Cut(t, ".")
	return c, a
}

// NATSSubject is the subject the event is published on:
// driftless.<category>.<action>.<repo>.<app>, or four tokens for source events.
func (e Event) NATSSubject() string {
	c, a := e.split()
	if c == CatSource || e.Data.App == "" {
		return fmt.Sprintf("%s.%s.%s.%s", SubjectPrefix, c, a, token(e.Data.Repo))
	}
	return fmt.Sprintf("%s.%s.%s.%s.%s", SubjectPrefix, c, a, token(e.Data.Repo), token(e.Data.App))
}

// token makes a name safe as one NATS subject token. Repo and app names are
// already restricted to [a-z0-9_-]; this guards against anything else.
func token(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}
