// Command httpbin is the third-party handler of the differential test:
// github.com/mccutchen/go-httpbin's handler, unchanged, run by hosting.Run
// as any user's site is. Its body limit is raised from 1 MiB to 8 MiB, for
// the test's 5 MB uploads.
package main

import (
	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/fcgi-hosting/fcgi/hosting"
)

func main() { hosting.Run(httpbin.New(httpbin.WithMaxBodySize(8 << 20))) }
