package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DefaultOutboxBytes bounds the outbox when WithOutbox is given no size.
const DefaultOutboxBytes = 64 << 20

// outbox is an ordered on-disk queue of events that could not be published:
// one file per event, named by a zero-padded sequence number, written to a
// temporary name, synced and renamed so a crash never leaves half an event.
type outbox struct {
	dir      string
	maxBytes int64

	mu      sync.Mutex
	loaded  bool
	entries []outboxEntry // oldest first
	bytes   int64
	next    uint64
}

type outboxEntry struct {
	seq  uint64
	size int64
}

const outboxExt = ".json"

func newOutbox(dir string, maxBytes int64) *outbox {
	if maxBytes <= 0 {
		maxBytes = DefaultOutboxBytes
	}
	return &outbox{dir: dir, maxBytes: maxBytes, next: 1}
}

func (o *outbox) path(seq uint64) string {
	return filepath.Join(o.dir, fmt.Sprintf("%020d%s", seq, outboxExt))
}

// loadLocked scans the directory once (retried until it succeeds), picking
// up events a previous process left behind.
func (o *outbox) loadLocked() error {
	if o.loaded {
		return nil
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	des, err := os.ReadDir(o.dir)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.entries, o.bytes = nil, 0
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".tmp-") {
			_ = os.Remove(filepath.Join(o.dir, name)) // an interrupted write
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, outboxExt), 10, 64)
		if err != nil || !strings.HasSuffix(name, outboxExt) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		o.entries = append(o.entries, outboxEntry{seq: seq, size: fi.Size()})
		o.bytes += fi.Size()
		o.next = max(o.next, seq+1)
	}
	slices.SortFunc(o.entries, func(a, b outboxEntry) int { return cmpU64(a.seq, b.seq) })
	o.loaded = true
	return nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// len reports how many events wait; an unreadable directory counts as one
// so that callers keep queueing (in order) rather than jumping ahead.
func (o *outbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.loadLocked(); err != nil {
		return 1
	}
	return len(o.entries)
}

// append writes ev at the tail. It returns the events dropped from the head
// to stay within maxBytes (possibly ev itself, if it alone is too big).
func (o *outbox) append(ev Event) (dropped []Event, err error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("outbox: encode: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.loadLocked(); err != nil {
		return nil, err
	}
	seq := o.next
	tmp := filepath.Join(o.dir, fmt.Sprintf(".tmp-%020d", seq))
	if err := writeSynced(tmp, data); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := os.Rename(tmp, o.path(seq)); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("outbox: %w", err)
	}
	syncDir(o.dir)
	o.next++
	o.entries = append(o.entries, outboxEntry{seq: seq, size: int64(len(data))})
	o.bytes += int64(len(data))
	for o.bytes > o.maxBytes && len(o.entries) > 0 {
		e := o.entries[0]
		if old, err := o.readLocked(e.seq); err == nil {
			dropped = append(dropped, old)
		} else {
			dropped = append(dropped, Event{})
		}
		o.removeLocked(e.seq)
	}
	return dropped, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename durable; best effort.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// head returns the oldest event. ok is false when the outbox is empty. A
// file that cannot be decoded is returned with err set, and its seq, so
// the caller can drop it.
func (o *outbox) head() (seq uint64, ev Event, ok bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.loadLocked(); err != nil {
		return 0, Event{}, false, err
	}
	if len(o.entries) == 0 {
		return 0, Event{}, false, nil
	}
	seq = o.entries[0].seq
	ev, err = o.readLocked(seq)
	return seq, ev, true, err
}

func (o *outbox) readLocked(seq uint64) (Event, error) {
	var ev Event
	data, err := os.ReadFile(o.path(seq))
	if err != nil {
		return ev, fmt.Errorf("outbox: %w", err)
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("outbox: decode %s: %w", filepath.Base(o.path(seq)), err)
	}
	if ev.ID == "" || ev.Type == "" {
		return ev, fmt.Errorf("outbox: %s: not an event", filepath.Base(o.path(seq)))
	}
	return ev, nil
}

// remove deletes the event seq (published or dropped). Removing an event
// already gone (dropped meanwhile) is fine.
func (o *outbox) remove(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.removeLocked(seq)
}

func (o *outbox) removeLocked(seq uint64) {
	i := slices.IndexFunc(o.entries, func(e outboxEntry) bool { return e.seq == seq })
	if i < 0 {
		return
	}
	o.bytes -= o.entries[i].size
	o.entries = slices.Delete(o.entries, i, i+1)
	if err := os.Remove(o.path(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Forgotten in memory either way. A leftover file is published
		// again at the next start: JetStream (within its duplicate window)
		// and consumers dedupe by the event id.
		return
	}
}
