package emulate_test

import (
	"os"

	"github.com/fcgi-hosting/fcgi/hosting/emulate"
)

// A site laid out as it is uploaded (.htaccess beside app.fcgi) served on
// 127.0.0.1:8000 until Ctrl-C; the scripts log to the terminal. Not run by
// go test: it serves until a signal.
func ExampleRun() {
	os.Exit(emulate.Run("site", "127.0.0.1:8000", []string{"LOG_FILE=stderr"}, os.Stderr))
}
