// Command httpbin is the third-party handler of the differential test:
// github.com/mccutchen/go-httpbin's handler, unchanged, run by hosting.Run
// as any user's site is.
package main

import (
	"github.com/mccutchen/go-httpbin/v2/httpbin"

	"github.com/fcgi-hosting/fcgi/hosting"
)

func main() { hosting.Run(httpbin.New()) }
