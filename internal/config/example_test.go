package config_test

import (
	"fmt"
	"os"

	"github.com/driftless/driftless/internal/config"
)

func ExampleParse() {
	src := []byte(`
listen = "127.0.0.1:9000"
repo "platform" {
  url      = "https://github.com/acme/platform.git"
  interval = "5 minutes"
  path     = "../elsewhere"
}
`)
	_, err := config.Parse(src, "driftless.hcl", os.Getenv)
	fmt.Println(err)
	// Output:
	// driftless.hcl:5:14: Invalid duration: "5 minutes" is not a duration for "interval"; use Go duration syntax such as "90s", "1m" or "15m".
	// driftless.hcl:6:14: Invalid path: "../elsewhere" leads outside the repository.
}
