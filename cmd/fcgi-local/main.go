// Command fcgi-local serves a site directory on 127.0.0.1 the way a shared
// host with Apache 2.4 + mod_fcgid would: .htaccess rules, static files,
// and .fcgi scripts (Go, PHP's php-cgi, Python flup...) spawned with a
// listening socket on fd 0.
//
//	fcgi-local [-addr 127.0.0.1:8000] [-env NAME=VALUE]... [DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/fcgi-hosting/fcgi/hosting/emulate"
)

type envFlags []string

func (e *envFlags) String() string { return strings.Join(*e, " ") }
func (e *envFlags) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "address to serve on")
	var env envFlags
	flag.Var(&env, "env", "`NAME=VALUE` for the scripts' environment, as FcgidInitialEnv (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: fcgi-local [-addr ADDR] [-env NAME=VALUE]... [DIR]\n\n"+
			"Serves DIR (default .) as Apache + mod_fcgid on a shared host would.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	dir := "."
	switch flag.NArg() {
	case 0:
	case 1:
		dir = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		fmt.Fprintf(os.Stderr, "fcgi-local: %s is not a directory\n", dir)
		os.Exit(2)
	}
	os.Exit(emulate.Run(dir, *addr, env, os.Stderr))
}
