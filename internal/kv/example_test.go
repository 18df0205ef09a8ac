package kv_test

import (
	"fmt"

	"github.com/driftless/driftless/internal/kv"
)

func ExampleKey() {
	fmt.Println(kv.Key("app", "platform", "web"))
	fmt.Println(kv.Key("lease", "repo", "acme.io/platform"))
	// Output:
	// app.platform.web
	// lease.repo.acme=2Eio/platform
}
