package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"kemi/core"
	"kemi/server/jsonrpc"
)

// rpcCmd is `kemi rpc [-s SOCKET|-u URL] [-t] METHOD [ARGS...]`: one
// JSON-RPC request over the server's datagram socket, or POSTed to URL
// (the script's xhttp callback hands it to jsonrpcs.dispatch), the result
// printed as JSON (or as a table with -t).
func rpcCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kemi rpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("s", "", "the server's RPC socket (default "+jsonrpc.DefaultSocket()+")")
	url := fs.String("u", "", "POST the request to this HTTP URL instead (the path the script hands to jsonrpcs.dispatch, e.g. http://127.0.0.1:5060/RPC)")
	table := fs.Bool("t", false, "print the result as a table")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kemi rpc [-s SOCKET|-u URL] [-t] METHOD [ARGS...]\n  e.g. kemi rpc core.version; kemi rpc ul.dump; kemi rpc stats.get_statistics all; kemi rpc cfg.set core debug 3\n  an argument that is an integer is sent as one; prefix s: to send it as a string\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return 2
	}
	path := *sock
	if path == "" {
		path = jsonrpc.DefaultSocket()
	}
	if *url != "" {
		if *sock != "" {
			fmt.Fprintln(stderr, "kemi rpc: give -s or -u, not both")
			return 2
		}
		path = *url
	}
	params := []any{}
	for _, a := range fs.Args()[1:] {
		if s, ok := strings.CutPrefix(a, "s:"); ok {
			params = append(params, s)
		} else if n, ok := core.IntArg(a); ok {
			params = append(params, n)
		} else {
			params = append(params, a)
		}
	}
	req, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": fs.Arg(0), "params": params, "id": os.Getpid()})
	call := rpcCall
	if *url != "" {
		call = rpcHTTP
	}
	resp, err := call(path, req, *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "kemi rpc:", err)
		return 1
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *jsonrpc.Error  `json:"error"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		fmt.Fprintf(stderr, "kemi rpc: bad answer from %s: %v\n", path, err)
		return 1
	}
	if r.Error != nil {
		fmt.Fprintf(stderr, "kemi rpc: %s: error %d: %s\n", fs.Arg(0), r.Error.Code, r.Error.Message)
		return 1
	}
	if *table {
		var v any
		json.Unmarshal(r.Result, &v)
		printTable(stdout, v)
		return 0
	}
	var v any
	json.Unmarshal(r.Result, &v)
	out, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintln(stdout, string(out))
	return 0
}

// rpcCall sends one request to the datagram socket at path from a socket
// of its own (the server answers to the sender's address) and waits for
// the answer.
func rpcCall(path string, req []byte, timeout time.Duration) ([]byte, error) {
	dir, err := os.MkdirTemp("", "kemi-rpc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	local := &net.UnixAddr{Name: filepath.Join(dir, "reply.sock"), Net: "unixgram"}
	c, err := net.DialUnix("unixgram", local, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is kemi running? -s names its socket)", path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(req); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.SetReadBuffer(8 << 20)
	buf := make([]byte, 8<<20) // the largest answer the server sends in one datagram
	n, err := c.Read(buf)
	if err != nil {
		return nil, fmt.Errorf("%s: no answer: %w", path, err)
	}
	return buf[:n], nil
}

// rpcHTTP POSTs one request to url and returns the answer's body.
func rpcHTTP(url string, req []byte, timeout time.Duration) ([]byte, error) {
	c := &http.Client{Timeout: timeout}
	res, err := c.Post(url, "application/json", bytes.NewReader(req))
	if err != nil {
		return nil, fmt.Errorf("%w (is kemi serving HTTP there? -u names the URL its script hands to jsonrpcs.dispatch)", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s: %s", url, res.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

// printTable prints a list as one row each (the keys of a list of objects
// as the header), an object as key and value, anything else as JSON.
func printTable(w io.Writer, v any) {
	cell := func(x any) string {
		switch x := x.(type) {
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case nil:
			return ""
		}
		b, _ := json.Marshal(x)
		return string(b)
	}
	switch v := v.(type) {
	case []any:
		var keys []string
		seen := map[string]bool{}
		for _, row := range v {
			if m, ok := row.(map[string]any); ok {
				for k := range m {
					if !seen[k] {
						seen[k] = true
						keys = append(keys, k)
					}
				}
			}
		}
		sort.Strings(keys)
		if len(keys) > 0 {
			fmt.Fprintln(w, strings.Join(keys, "\t"))
		}
		for _, row := range v {
			if m, ok := row.(map[string]any); ok && len(keys) > 0 {
				cells := make([]string, len(keys))
				for i, k := range keys {
					cells[i] = cell(m[k])
				}
				fmt.Fprintln(w, strings.Join(cells, "\t"))
			} else {
				fmt.Fprintln(w, cell(row))
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s\t%s\n", k, cell(v[k]))
		}
	default:
		fmt.Fprintln(w, cell(v))
	}
}
