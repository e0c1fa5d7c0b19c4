package nginx_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fcgi-hosting/fcgi/internal/testenv"
	"github.com/fcgi-hosting/fcgi/responder"
)

var helloBin string

func TestMain(m *testing.M) { testenv.MainWithHello(m, &helloBin) }

// countingListener counts the connections nginx opens to the application.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// startNginx runs nginx with mysite.conf, its marked lines pointed at sock
// and root.
func startNginx(t *testing.T, sock, root string) string {
	return startNginxWith(t, "mysite.conf", sock, root)
}

func startNginxWith(t *testing.T, template, sock, root string) string {
	tmpl, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	site := strings.NewReplacer("unix:/srv/mysite/mysite.sock", "unix:"+sock, "/srv/mysite/public", root).Replace(string(tmpl))
	if site == string(tmpl) || !strings.Contains(site, "listen 80;") {
		t.Fatal(template + " no longer has the lines the test adapts")
	}
	return testenv.StartNginx(t, site)
}

func TestNginx(t *testing.T) {
	slowStarted, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		pi, _ := responder.Param(r, "PATH_INFO")
		fmt.Fprintf(w, "hello %s %s %s", r.URL.Query().Get("name"), pi, r.Header.Get("X-Test"))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Length", fmt.Sprint(r.ContentLength))
		io.Copy(w, r.Body)
	})
	next := make(chan struct{})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Accel-Buffering", "no")
		for i := range 3 {
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case slowStarted <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(testenv.Patience):
		}
	})
	sock := filepath.Join(t.TempDir(), "app.sock")
	ul, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l := &countingListener{Listener: ul}
	srv := &responder.Server{Handler: mux}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "static.txt"), []byte("from disk"), 0o644)
	base := startNginx(t, sock, root)
	client := &http.Client{Timeout: testenv.Patience}

	t.Run("get", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/hello?name=gopher", nil)
		req.Header.Set("X-Test", "hdr")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "hello gopher /hello hdr" {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
	})
	t.Run("static file by nginx", func(t *testing.T) {
		before := l.n.Load()
		resp, err := client.Get(base + "/static.txt")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "from disk" || l.n.Load() != before {
			t.Fatalf("%q", b)
		}
	})
	t.Run("post 100 KiB", func(t *testing.T) {
		body := bytes.Repeat([]byte("0123456789"), 10<<10)
		resp, err := client.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Equal(b, body) || resp.Header.Get("X-Length") != fmt.Sprint(len(body)) {
			t.Fatalf("echoed %d bytes, length %s", len(b), resp.Header.Get("X-Length"))
		}
	})
	t.Run("kept-alive connections", func(t *testing.T) {
		before := l.n.Load()
		for range 50 {
			resp, err := client.Get(base + "/hello")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if opened := l.n.Load() - before; opened > 2 {
			t.Fatalf("nginx opened %d connections for 50 sequential requests; fastcgi_keep_conn is not in effect", opened)
		}
	})
	t.Run("streamed", func(t *testing.T) {
		// Each line is read while the handler waits for the test to ask
		// for the next: only a streamed response gets through.
		resp, err := client.Get(base + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		for i := range 3 {
			line, err := br.ReadString('\n')
			if want := fmt.Sprintf("line %d\n", i); err != nil || line != want {
				t.Fatalf("read %q, %v; want %q", line, err, want)
			}
			next <- struct{}{}
		}
	})
	t.Run("client disconnect cancels the handler", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/slow", nil)
		answered := make(chan error, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			answered <- err
		}()
		// The client goes away once the handler has the request.
		select {
		case <-slowStarted:
		case <-time.After(testenv.Patience):
			t.Fatal("the request never reached the handler")
		}
		cancel()
		if err := <-answered; err == nil {
			t.Fatal("slow request finished")
		}
		select {
		case <-cancelled:
		case <-time.After(testenv.Patience):
			t.Fatal("handler context not cancelled after the client went away")
		}
	})
}

// The hello site as a user runs it behind the template: the site suite,
// streaming, a client going away, and reloads under load.
func TestNginx_HelloSite(t *testing.T) {
	appDir, root := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "static"), 0o755)
	os.WriteFile(filepath.Join(root, "static", "style.css"), []byte("body{}"), 0o644)
	sock := filepath.Join(appDir, "mysite.sock")
	app := testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\n", "unix:"+sock)
	base := startNginx(t, sock, root)
	testenv.WaitUp(t, base+"/")
	testenv.CheckHelloSite(t, base, "mode: external", "SERVER_SOFTWARE=nginx/")
	testenv.CheckClientAbort(t, base, filepath.Join(appDir, "mysite.log"), true)
	testenv.ReloadUnderLoad(t, "nginx", base+"/", "v1\n", app, filepath.Join(appDir, "mysite.log"))
}

// The hello site in /app/ with subdirectory.conf: the same suite, its
// links, cookies and redirects under /app.
func TestNginx_Subdirectory(t *testing.T) {
	appDir, root := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "app", "static"), 0o755)
	os.WriteFile(filepath.Join(root, "app", "static", "style.css"), []byte("body{}"), 0o644)
	sock := filepath.Join(appDir, "mysite.sock")
	testenv.StartExternal(t, helloBin, appDir, "GREETING=v1\nDEBUG=true\n", "unix:"+sock)
	base := startNginxWith(t, "subdirectory.conf", sock, root)
	testenv.WaitUp(t, base+"/app/")
	testenv.CheckHelloSite(t, base+"/app", "mode: external", "SCRIPT_NAME=/app\n", "PATH_INFO=/info\n")
}
