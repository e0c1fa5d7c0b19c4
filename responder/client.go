package responder

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// A Client speaks FastCGI to an application over one connection, the way a
// web server does: it is what the project's tests, bridge and load
// generator use, and it works with any FastCGI application (PHP-FPM
// included). Several requests may run on one Client at once; they are
// multiplexed on the connection, which the application must allow.
type Client struct {
	rwc  net.Conn
	wmu  sync.Mutex
	wbuf []byte

	mu     sync.Mutex
	reqs   map[uint16]*clientCall
	nextID uint16
	values chan []param
	err    error // set when the reader stops
	done   chan struct{}
}

// ClientRequest is one request for Client.Do.
type ClientRequest struct {
	// Role defaults to RoleResponder.
	Role Role
	// KeepConn asks the application to keep the connection open after
	// the request (FCGI_KEEP_CONN). Without it the application closes the
	// connection and the Client cannot be used again.
	KeepConn bool
	// Params are the CGI/1.1 variables, sent in sorted order.
	Params map[string]string
	// Stdin is the request body, sent as FCGI_STDIN; nil sends none.
	Stdin io.Reader
	// Data is the Filter role's file, sent as FCGI_DATA.
	Data io.Reader
}

// ClientResponse is an application's answer. Body streams FCGI_STDOUT
// after the CGI header block; AppStatus and Stderr are complete once Body
// has returned io.EOF.
type ClientResponse struct {
	StatusCode int
	Header     http.Header
	Body       io.Reader

	call *clientCall
}

// AppStatus is the application status of FCGI_END_REQUEST.
func (r *ClientResponse) AppStatus() uint32 { return r.call.appStatus }

// Stderr is what the application wrote to FCGI_STDERR.
func (r *ClientResponse) Stderr() string {
	r.call.c.mu.Lock()
	defer r.call.c.mu.Unlock()
	return r.call.stderr.String()
}

// EndRequestError reports a request the application refused.
type EndRequestError struct {
	ProtocolStatus uint8
}

func (e *EndRequestError) Error() string {
	switch e.ProtocolStatus {
	case statusCantMultiplex:
		return "fastcgi: application cannot multiplex connections (FCGI_CANT_MPX_CONN)"
	case statusOverloaded:
		return "fastcgi: application overloaded (FCGI_OVERLOADED)"
	case statusUnknownRole:
		return "fastcgi: application does not play this role (FCGI_UNKNOWN_ROLE)"
	}
	return "fastcgi: request ended with protocol status " + strconv.Itoa(int(e.ProtocolStatus))
}

// Overloaded reports whether the application refused for lack of capacity.
func (e *EndRequestError) Overloaded() bool { return e.ProtocolStatus == statusOverloaded }

type clientCall struct {
	c              *Client
	id             uint16
	stdout         streamBuffer
	stderr         strings.Builder
	appStatus      uint32
	protocolStatus uint8
	ended          chan struct{}
}

// Dial connects to a FastCGI application at address on network ("tcp" or
// "unix").
func Dial(network, address string) (*Client, error) {
	rwc, err := net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return NewClient(rwc), nil
}

// NewClient returns a Client on an established connection.
func NewClient(rwc net.Conn) *Client {
	c := &Client{rwc: rwc, reqs: make(map[uint16]*clientCall), done: make(chan struct{}), values: make(chan []param, 1)}
	go c.read()
	return c
}

// Close closes the connection; requests in progress fail.
func (c *Client) Close() error { return c.rwc.Close() }

func (c *Client) read() {
	rr := newPooledReader(c.rwc)
	defer rr.release()
	err := func() error {
		for {
			h, content, err := rr.next()
			if err != nil {
				return err
			}
			if h.id == 0 {
				if h.recType == typeGetValuesResult {
					ps, err := parsePairs(nil, string(content), 64)
					if err != nil {
						return err
					}
					select {
					case c.values <- ps:
					default:
					}
				}
				continue
			}
			c.mu.Lock()
			call := c.reqs[h.id]
			c.mu.Unlock()
			if call == nil {
				return fmt.Errorf("fastcgi: record type %d for request %d, which is not in progress", h.recType, h.id)
			}
			switch h.recType {
			case typeStdout:
				if len(content) == 0 {
					call.stdout.end(io.EOF)
				} else if err := call.stdout.write(content, false); err != nil {
					return err
				}
			case typeStderr:
				c.mu.Lock()
				call.stderr.Write(content)
				c.mu.Unlock()
			case typeEndRequest:
				if len(content) != 8 {
					return errors.New("fastcgi: FCGI_END_REQUEST body is not 8 bytes")
				}
				call.appStatus = uint32(content[0])<<24 | uint32(content[1])<<16 | uint32(content[2])<<8 | uint32(content[3])
				call.protocolStatus = content[4]
				c.mu.Lock()
				delete(c.reqs, h.id)
				c.mu.Unlock()
				close(call.ended)
				call.stdout.end(io.EOF)
			default:
				return fmt.Errorf("fastcgi: unexpected record type %d from the application", h.recType)
			}
		}
	}()
	if err == io.EOF {
		err = errors.New("fastcgi: application closed the connection")
	}
	c.rwc.Close()
	c.mu.Lock()
	c.err = err
	for _, call := range c.reqs {
		call.stdout.end(io.ErrUnexpectedEOF)
	}
	c.mu.Unlock()
	close(c.done)
}

func (c *Client) send(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err := c.rwc.Write(b)
	return err
}

// GetValues asks the application for FCGI_GET_VALUES variables.
func (c *Client) GetValues(ctx context.Context, names ...string) (map[string]string, error) {
	var body []byte
	for _, n := range names {
		body = appendPair(body, n, "")
	}
	if err := c.send(appendRecord(nil, typeGetValues, 0, body)); err != nil {
		return nil, err
	}
	select {
	case ps := <-c.values:
		m := make(map[string]string, len(ps))
		for _, p := range ps {
			m[p.name] = p.value
		}
		return m, nil
	case <-c.done:
		return nil, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Do sends r and returns once the application's header block has arrived.
// Cancelling ctx sends FCGI_ABORT_REQUEST and makes Do, or a read of the
// body still to come, return ctx's error.
func (c *Client) Do(ctx context.Context, r *ClientRequest) (*ClientResponse, error) {
	call := &clientCall{c: c, ended: make(chan struct{})}
	call.stdout.init(1<<20, -1, "", nil) // no spill budget: the caller reads its own responses
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	for {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if c.reqs[c.nextID] == nil {
			break
		}
	}
	call.id = c.nextID
	c.reqs[call.id] = call
	c.mu.Unlock()

	// A send that fails part way may still have a response to read: an
	// application may answer (413, say) and close before taking the body.
	sendErr := c.sendRequest(call.id, r)
	stop := context.AfterFunc(ctx, func() {
		// Return to the caller even if the application never answers.
		call.stdout.end(ctx.Err())
		c.send(appendRecord(nil, typeAbortRequest, call.id, nil))
	})
	br := bufio.NewReader(&call.stdout)
	tp := textproto.NewReader(br)
	mh, err := tp.ReadMIMEHeader()
	if err != nil {
		select {
		case <-call.ended:
			if call.protocolStatus != statusRequestComplete {
				stop()
				return nil, &EndRequestError{ProtocolStatus: call.protocolStatus}
			}
		default:
		}
		if !(err == io.EOF && len(mh) == 0) {
			stop()
			if sendErr != nil {
				return nil, sendErr
			}
			return nil, fmt.Errorf("fastcgi: reading the response header: %w", err)
		}
	}
	resp := &ClientResponse{StatusCode: http.StatusOK, Header: http.Header(mh), call: call}
	if s := resp.Header.Get("Status"); s != "" {
		code, _, _ := strings.Cut(s, " ")
		if resp.StatusCode, err = strconv.Atoi(code); err != nil {
			stop()
			return nil, fmt.Errorf("fastcgi: malformed Status header %q", s)
		}
		resp.Header.Del("Status")
	} else if resp.Header.Get("Location") != "" {
		resp.StatusCode = http.StatusFound
	}
	resp.Body = &clientBody{r: br, call: call, stop: stop}
	return resp, nil
}

func (c *Client) sendRequest(id uint16, r *ClientRequest) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	role := r.Role
	if role == 0 {
		role = RoleResponder
	}
	var begin [8]byte
	begin[0], begin[1] = byte(role>>8), byte(role)
	if r.KeepConn {
		begin[2] = flagKeepConn
	}
	b := appendRecord(c.wbuf[:0], typeBeginRequest, id, begin[:])
	keys := make([]string, 0, len(r.Params))
	for k := range r.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var ps []byte
	for _, k := range keys {
		ps = appendPair(ps, k, r.Params[k])
	}
	b = appendStream(b, typeParams, id, ps)
	b = appendRecord(b, typeParams, id, nil)
	if r.Stdin == nil {
		b = appendRecord(b, typeStdin, id, nil)
	}
	c.wbuf = b
	if _, err := c.rwc.Write(b); err != nil {
		return err
	}
	if r.Stdin != nil {
		if err := c.sendStream(id, typeStdin, r.Stdin); err != nil {
			return err
		}
	}
	if r.Data != nil {
		return c.sendStream(id, typeData, r.Data)
	}
	return nil
}

func (c *Client) sendStream(id uint16, t uint8, r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := c.rwc.Write(appendRecord(c.wbuf[:0], t, id, buf[:n])); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			_, werr := c.rwc.Write(appendRecord(c.wbuf[:0], t, id, nil))
			return werr
		}
		if err != nil {
			return err
		}
	}
}

type clientBody struct {
	r    *bufio.Reader
	call *clientCall
	stop func() bool
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.stop()
		select {
		case <-b.call.ended:
		case <-b.call.c.done:
			select {
			case <-b.call.ended:
			default:
				return n, b.call.c.err
			}
		}
	}
	return n, err
}
