package hosting

import (
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"

	"github.com/fcgi-hosting/fcgi/hosting/internal/logfile"
)

// logPath is where LOG_FILE puts the log: "stderr", or a file path,
// relative to the binary's directory.
func (rt *Runtime) logPath() string {
	switch p := rt.settings.LogFile; {
	case p == "":
		return filepath.Join(rt.dir, rt.name+".log")
	case p == "stderr" || filepath.IsAbs(p):
		return p
	default:
		return filepath.Join(rt.dir, p)
	}
}

// openLog sets up the logger; a log file that cannot be opened falls back
// to stderr (the web server's error log) with a line saying why.
func (rt *Runtime) openLog() func() {
	path := rt.logPath()
	var w io.Writer = os.Stderr
	var file *logfile.File
	var openErr error
	if path != "stderr" {
		if file, openErr = logfile.Open(path, rt.settings.LogMaxSize); openErr == nil {
			w = file
		}
	}
	if rt.redact != nil {
		// Whatever quotes a secret (a handler's error wrapping a DSN, a
		// driver's log.Print) writes it masked: zerolog and log write a
		// line per call, so a secret is never split between two.
		w = redactingWriter{w, rt.redact}
	}
	rt.log = zerolog.New(w).Level(rt.settings.LogLevel).With().Timestamp().Int("pid", os.Getpid()).Logger()
	// The handler's and its libraries' log.Print lines (a database driver's
	// complaints) reach the same file, not the web server's error log.
	flags := log.Flags()
	log.SetFlags(0)
	log.SetOutput(rt.log.With().Str("from", "log").Logger())
	if openErr != nil {
		rt.log.Error().Err(openErr).Msg("cannot write the log file; logging to stderr (the web server's error log) instead")
	}
	return func() {
		log.SetOutput(os.Stderr)
		log.SetFlags(flags)
		if file != nil {
			file.Close()
		}
	}
}

type redactingWriter struct {
	w io.Writer
	r *strings.Replacer
}

func (rw redactingWriter) Write(p []byte) (int, error) {
	// One Write for the line, as the log file's rotation and other
	// writers expect.
	if _, err := rw.w.Write([]byte(rw.r.Replace(string(p)))); err != nil {
		return 0, err
	}
	return len(p), nil
}
