// Package reload is what a reload in place needs: noticing that the binary
// or the settings file changed, checking that the new binary can run, and
// passing the listening socket and kept-alive connections across exec.
package reload
