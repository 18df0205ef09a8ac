package lambda_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"testing/fstest"
	"time"

	"github.com/driftless/driftless/appliers/lambda"
)

// ZipDir gives the same archive, and so the same CodeSha256, for the same
// content whatever the files' timestamps.
func ExampleZipDir() {
	tree := fstest.MapFS{
		"functions/thumb/index.js":    {Data: []byte("exports.handler = async () => 'ok'\n"), ModTime: time.Now()},
		"functions/thumb/lib/util.js": {Data: []byte("module.exports = {}\n")},
		"functions/other/main.py":     {Data: []byte("print('not zipped')\n")},
	}
	zipped, sha, err := lambda.ZipDir(tree, "functions/thumb")
	if err != nil {
		panic(err)
	}
	tree["functions/thumb/index.js"].ModTime = time.Now().Add(time.Hour)
	_, again, _ := lambda.ZipDir(tree, "functions/thumb")

	zr, _ := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	for _, f := range zr.File {
		fmt.Println(f.Name, f.Mode(), f.Modified.Format(time.DateOnly))
	}
	fmt.Println("same CodeSha256:", sha == again)
	// Output:
	// index.js -rw-r--r-- 1980-01-01
	// lib/util.js -rw-r--r-- 1980-01-01
	// same CodeSha256: true
}
