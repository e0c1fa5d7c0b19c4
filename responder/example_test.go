package responder_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fcgi-hosting/fcgi/responder"
)

// Serve a handler to nginx or Apache mod_proxy_fcgi on a unix socket, and
// drain in-flight requests on SIGTERM.
func ExampleServer_Shutdown() {
	srv := &responder.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, "Hello from", r.URL.Path)
		}),
		MaxConcurrentRequests: 200,
	}
	l, err := net.Listen("unix", "/run/mysite/mysite.sock")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	if err := srv.Serve(l); err != responder.ErrServerClosed {
		log.Fatal(err)
	}
}

// Read the CGI variables a web server sends with each request.
func ExampleParam() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	l, _ := net.Listen("unix", filepath.Join(dir, "app.sock"))
	srv := &responder.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		script, _ := responder.Param(r, "SCRIPT_NAME")
		pathInfo, _ := responder.Param(r, "PATH_INFO")
		fmt.Fprintf(w, "script %s, path %s, URL %s", script, pathInfo, r.URL)
	})}
	go srv.Serve(l)
	defer srv.Close()

	// What Apache mod_fcgid sends for GET /sub/path?x=1 rewritten to mysite.fcgi.
	c, _ := responder.Dial("unix", l.Addr().String())
	defer c.Close()
	resp, err := c.Do(context.Background(), &responder.ClientRequest{Params: map[string]string{
		"REQUEST_METHOD": "GET", "REQUEST_URI": "/sub/path?x=1", "QUERY_STRING": "x=1",
		"SCRIPT_NAME": "/mysite.fcgi", "PATH_INFO": "/sub/path", "SERVER_PROTOCOL": "HTTP/1.1",
	}})
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 script /mysite.fcgi, path /sub/path, URL /sub/path?x=1
}

// Hand a kept-alive connection from one server to the next, as a restart
// in place does: the web server's connection stays open and its next
// request is served by the new code.
func ExampleServer_Handoff() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	l, _ := net.Listen("unix", filepath.Join(dir, "app.sock"))
	defer l.Close()
	version := func(v string) *responder.Server {
		return &responder.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, v)
		})}
	}
	old := version("old code")
	go old.Serve(l)

	webServer, _ := responder.Dial("unix", l.Addr().String())
	defer webServer.Close()
	get := func() {
		resp, err := webServer.Do(context.Background(), &responder.ClientRequest{
			KeepConn: true,
			Params:   map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1"},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	}
	get()

	files, err := old.Handoff(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	next := version("new code")
	defer next.Close()
	for _, f := range files { // after an exec: os.NewFile on the passed descriptor
		c, err := net.FileConn(f)
		f.Close()
		if err == nil {
			next.ServeConn(c)
		}
	}
	get()
	// Output:
	// old code
	// new code
}

// Hand each kept-alive connection to a server already running beside
// this one as soon as it is idle, rather than all at the end: requests
// that come on it meanwhile are answered by the new code while the old
// finishes its own.
func ExampleServer_HandoffFunc() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	l, _ := net.Listen("unix", filepath.Join(dir, "app.sock"))
	defer l.Close()
	version := func(v string) *responder.Server {
		return &responder.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, v)
		})}
	}
	old, next := version("old code"), version("new code")
	go old.Serve(l)
	defer next.Close()

	webServer, _ := responder.Dial("unix", l.Addr().String())
	defer webServer.Close()
	get := func() {
		resp, err := webServer.Do(context.Background(), &responder.ClientRequest{
			KeepConn: true,
			Params:   map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/", "SERVER_PROTOCOL": "HTTP/1.1"},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Println(string(body))
	}
	get()

	passed := make(chan struct{})
	go old.HandoffFunc(context.Background(), func(f *os.File) {
		c, err := net.FileConn(f) // in another process: sent over a unix socket first
		f.Close()
		if err == nil {
			next.ServeConn(c)
		}
		close(passed)
	})
	<-passed
	get()
	// Output:
	// old code
	// new code
}

// Answer a web server's Authorizer request: a 200 lets the request through
// with the variables set, any other answer goes to the client.
func ExampleSetVariable() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	l, _ := net.Listen("unix", filepath.Join(dir, "app.sock"))
	srv := &responder.Server{Authorizer: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "session=meg" {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		responder.SetVariable(w, "SITE_USER", "meg")
	})}
	go srv.Serve(l)
	defer srv.Close()

	c, _ := responder.Dial("unix", l.Addr().String())
	defer c.Close()
	for _, cookie := range []string{"session=meg", ""} {
		resp, err := c.Do(context.Background(), &responder.ClientRequest{Role: responder.RoleAuthorizer, KeepConn: true,
			Params: map[string]string{"REQUEST_METHOD": "GET", "REQUEST_URI": "/private/", "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_COOKIE": cookie}})
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %q %q\n", resp.StatusCode, resp.Header.Get("Variable-SITE_USER"), body)
	}
	// Output:
	// 200 "meg" ""
	// 401 "" "log in first\n"
}
