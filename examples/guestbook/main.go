// Command guestbook is a small real site for shared hosting: visitors read
// the messages, newest first, ten to a page, and leave their own. It keeps
// them in SQLite, in the file named by DATABASE in mysite.env (default
// guestbook.db beside the binary; the .htaccess template refuses to serve
// it), or in the host's MySQL/MariaDB when DATABASE is a mysql:// URL.
// Build it, upload it as mysite.fcgi with the files of site/, and
// browse; `make run` does the same locally.
package main

import "github.com/fcgi-hosting/fcgi/hosting"

func main() {
	hosting.Run(newSite())
}
