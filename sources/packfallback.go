package sources

import (
	"bytes"
	"errors"
	"io"
	"io/fs"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/filesystem/dotgit"
)

// packStorage is an objStore's go-git storage. Every object an objStore
// reads goes through its EncodedObject: commits, trees and blobs read
// directly, and the parents and subtrees go-git's decoded objects fetch
// later (history walks, merge bases), since they keep the storage they
// were decoded from.
//
// An objStore loads the index of every pack when it is opened and opens a
// pack file when it first reads from it (keeping a few open). Since
// Repo.mergePacks deletes the small packs it merged, a store opened before
// a merge (held by an older Revision) may find a pack it indexed gone.
// Every object of a deleted pack is in the merged pack, which the
// repository's newest store indexes, so such a read is retried there: this
// is the one place where that fallback happens.
type packStorage struct {
	*filesystem.Storage
	o *objStore
}

// EncodedObject reads object h, from the newest store when a pack this
// store indexed is gone. The caller holds s.o.mu.
func (s *packStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := s.Storage.EncodedObject(t, h)
	if packGone(err) {
		return s.o.readNewest(t, h, err)
	}
	if err != nil {
		return nil, err
	}
	if _, lazy := obj.(*packfile.FSObject); lazy {
		// Objects over 16 KiB are read when their Reader is opened,
		// from the pack file opened again by name.
		return &lazyObject{EncodedObject: obj, o: s.o}, nil
	}
	return obj, nil
}

// lazyObject is an object of a pack file that is read only when its
// Reader is opened, by which time the pack may have been merged away.
type lazyObject struct {
	plumbing.EncodedObject
	o *objStore
}

// Reader opens the object's content; the caller holds l.o.mu.
func (l *lazyObject) Reader() (io.ReadCloser, error) {
	rd, err := l.EncodedObject.Reader()
	if !packGone(err) {
		return rd, err
	}
	obj, err := l.o.readNewest(l.Type(), l.Hash(), err)
	if err != nil {
		return nil, err
	}
	return obj.Reader()
}

// packGone reports whether err means that a pack file is missing: go-git
// wraps none of these, so they are its own sentinel or the file system's.
func packGone(err error) bool {
	return err != nil && (errors.Is(err, dotgit.ErrPackfileNotFound) || errors.Is(err, fs.ErrNotExist))
}

// readNewest reads object h from the repository's newest store, in full
// (its content must not be read later without that store's lock). cause is
// the error of the read that failed here, returned when there is no newer
// store. o.mu is held by the caller: locks are always taken from an older
// store to a newer one, so two readers never wait for each other.
func (o *objStore) readNewest(t plumbing.ObjectType, h plumbing.Hash, cause error) (plumbing.EncodedObject, error) {
	var n *objStore
	if o.newest != nil {
		n = o.newest()
	}
	if n == nil || n == o {
		return nil, cause
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	obj, err := n.s.EncodedObject(t, h)
	if err != nil {
		return nil, err // unwrapped: go-git compares some errors with ==
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, rd); err != nil {
		return nil, err
	}
	mem := &plumbing.MemoryObject{}
	mem.SetType(obj.Type())
	if _, err := mem.Write(buf.Bytes()); err != nil {
		return nil, err
	}
	return mem, nil
}
