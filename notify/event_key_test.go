package notify

import "testing"

func TestKeyMakesTheIDStable(t *testing.T) {
	a := New("i1", CatSource, ActUpdated, Data{Repo: "r", Revision: "abc", Key: "r@abc"})
	b := New("i2", CatSource, ActUpdated, Data{Repo: "r", Revision: "abc", Key: "r@abc"})
	c := New("i1", CatSource, ActInvalid, Data{Repo: "r", Revision: "abc", Key: "r@abc"})
	d := New("i1", CatSource, ActUpdated, Data{Repo: "r", Revision: "abc"})
	if a.ID != b.ID {
		t.Errorf("same key, different ids: %s %s", a.ID, b.ID)
	}
	if a.ID == c.ID || a.ID == d.ID {
		t.Errorf("ids collide across actions or without a key")
	}
}
