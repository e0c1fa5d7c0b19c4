package hosting

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// brokenLinks mails MANAGERS about links on the site that lead to a 404,
// as Django's BrokenLinkEmailsMiddleware does: only when the Referer is a
// page of the same site (a link the site's owner can fix), never for
// known bots. The first broken link is mailed at once; those found within
// mailInterval after it go together in one mail when it ends.
type brokenLinks struct {
	q *mailQueue

	mu      sync.Mutex
	last    time.Time    // when the last mail was sent
	batch   []brokenLink // waiting for the next mail
	more    int          // found beyond maxBatch, counted only
	pending *time.Timer  // sends the batch
}

type brokenLink struct {
	url, referer, agent string
	at                  time.Time
}

// maxBatch bounds the links of one mail, and the memory they hold.
const maxBatch = 50

func newBrokenLinks(s *Settings, log zerolog.Logger) *brokenLinks {
	if len(s.Managers) == 0 || s.EmailHost == "" {
		return nil
	}
	return &brokenLinks{q: newMailQueue(s, s.Managers, "broken-link mail to MANAGERS", log)}
}

// botAgents are substrings (lower case) of the user agents of crawlers,
// which follow stale and guessed links no page holds.
var botAgents = []string{"bot", "crawl", "spider", "slurp", "facebookexternalhit", "preview", "archiver"}

// check reports r, answered 404, if it came from a link on the site.
func (b *brokenLinks) check(r *http.Request) {
	referer, agent := r.Header.Get("Referer"), r.UserAgent()
	if referer == "" || agent == "" {
		return
	}
	lower := strings.ToLower(agent)
	for _, bot := range botAgents {
		if strings.Contains(lower, bot) {
			return
		}
	}
	ref, err := url.Parse(referer)
	if err != nil || (ref.Scheme != "http" && ref.Scheme != "https") || !strings.EqualFold(ref.Host, r.Host) {
		return
	}
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	broken := scheme + r.Host + r.RequestURI
	if broken == referer {
		return // a page reloaded, not a link followed
	}
	b.report(brokenLink{url: broken, referer: referer, agent: agent, at: time.Now()})
}

func (b *brokenLinks) report(l brokenLink) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil && (b.last.IsZero() || l.at.Sub(b.last) >= mailInterval) {
		b.last = l.at
		b.q.put(b.mail([]brokenLink{l}, 0, l.at))
		return
	}
	for _, o := range b.batch {
		if o.url == l.url && o.referer == l.referer {
			return
		}
	}
	if len(b.batch) < maxBatch {
		b.batch = append(b.batch, l)
	} else {
		b.more++
	}
	if b.pending == nil {
		b.pending = time.AfterFunc(b.last.Add(mailInterval).Sub(l.at), b.flush)
	}
}

// flush mails the batch.
func (b *brokenLinks) flush() {
	b.mu.Lock()
	batch, more := b.batch, b.more
	b.batch, b.more, b.pending = nil, 0, nil
	b.last = time.Now()
	b.mu.Unlock()
	b.q.put(b.mail(batch, more, b.last))
}

func (b *brokenLinks) mail(links []brokenLink, more int, now time.Time) []byte {
	host := links[0].url
	if u, err := url.Parse(host); err == nil {
		host = u.Host
	}
	subject := "Broken link on " + host + ": " + links[0].url
	if len(links) > 1 {
		subject = strconv.Itoa(len(links)+more) + " broken links on " + host
	}
	var body strings.Builder
	for i, l := range links {
		if i > 0 {
			body.WriteString("\n")
		}
		body.WriteString("Broken link: " + l.url + "\nReferring page: " + l.referer + "\nUser agent: " + l.agent +
			"\nTime: " + l.at.UTC().Format(time.RFC3339) + "\n")
	}
	if more > 0 {
		body.WriteString("\n" + strconv.Itoa(more) + " more broken links were found meanwhile (at most " +
			strconv.Itoa(maxBatch) + " a mail).\n")
	}
	body.WriteString("\nEach of these pages of the site links to a page that is not there (404). " +
		"Fix the link, or make the page. Crawlers and links from other sites are not reported.\n")
	return b.q.compose(subject, body.String(), now)
}
