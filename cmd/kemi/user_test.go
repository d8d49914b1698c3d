package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"kemi/exports/auth"
	"kemi/internal/store"
)

func TestUserCmd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kemi.db")
	run := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		rc := userMain(args, strings.NewReader(stdin), &out, &errb)
		return rc, out.String(), errb.String()
	}
	if rc, _, e := run("", "add", "-db", path, "alice@example.com", "s3cret"); rc != 0 {
		t.Fatalf("add: %d %s", rc, e)
	}
	// Flags after the arguments, and the password from stdin.
	if rc, _, e := run("bobpw\n", "add", "bob@example.com", "-db", path, "--plain"); rc != 0 {
		t.Fatalf("add --plain: %d %s", rc, e)
	}
	if rc, _, e := run("carolpw\n", "add", "carol@example.com", "-", "-db", path, "--ha1"); rc != 0 {
		t.Fatalf("add --ha1: %d %s", rc, e)
	}
	rc, out, _ := run("", "list", "-db", path)
	if rc != 0 || out != "USER               SECRET\nalice@example.com  ha1\nbob@example.com    password+ha1\ncarol@example.com  ha1\n" {
		t.Fatalf("list: %d\n%q", rc, out)
	}
	if strings.Contains(out, "s3cret") {
		t.Fatal("list printed a password")
	}
	subs, _, _ := store.Open(path).Subscribers()
	if len(subs) != 3 || subs[0].Password != "" || subs[1].Password != "bobpw" || subs[2].Password != "" ||
		subs[0].HA1 != auth.HA1(auth.MD5, "alice", "example.com", "s3cret") ||
		subs[1].HA1 != auth.HA1(auth.MD5, "bob", "example.com", "bobpw") ||
		subs[2].HA1SHA256 != auth.HA1(auth.SHA256, "carol", "example.com", "carolpw") {
		t.Fatalf("stored: %+v", subs)
	}
	if rc, _, e := run("", "del", "-db", path, "alice@example.com"); rc != 0 {
		t.Fatalf("del: %d %s", rc, e)
	}
	if rc, _, e := run("", "del", "-db", path, "alice@example.com"); rc != 1 || !strings.Contains(e, "not found") {
		t.Fatalf("del again: %d %s", rc, e)
	}
	for _, args := range [][]string{
		{"add", "-db", path, "alice"},
		{"add", "-db", path},
		{"frob"},
		{"list", "-db", path, "extra"},
	} {
		if rc, _, _ := run("", args...); rc == 0 {
			t.Errorf("%q succeeded", args)
		}
	}
	if rc, _, e := run("", "add", "-db", path, "dave@example.com"); rc != 1 || !strings.Contains(e, "empty password") {
		t.Errorf("empty stdin: %d %s", rc, e)
	}
}

// TestHardening_UserAdd_Prompt: on a terminal, add asks twice without
// echo; a mismatch stores nothing.
func TestHardening_UserAdd_Prompt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kemi.db")
	saved := terminal
	defer func() { terminal = saved }()
	var answers []string
	terminal.is = func(io.Reader) bool { return true }
	terminal.read = func(io.Reader) ([]byte, error) {
		if len(answers) == 0 {
			return nil, errors.New("no more input")
		}
		a := answers[0]
		answers = answers[1:]
		return []byte(a), nil
	}
	var out, errb bytes.Buffer
	answers = []string{"pw1", "pw2"}
	if rc := userMain([]string{"add", "-db", path, "alice@example.com"}, strings.NewReader(""), &out, &errb); rc != 1 || !strings.Contains(errb.String(), "differ") {
		t.Fatalf("mismatch: %d %s", rc, errb.String())
	}
	answers = []string{"pw1", "pw1"}
	errb.Reset()
	if rc := userMain([]string{"add", "-db", path, "alice@example.com"}, strings.NewReader(""), &out, &errb); rc != 0 {
		t.Fatalf("add: %d %s", rc, errb.String())
	}
	if !strings.Contains(errb.String(), "Password for alice@example.com: ") || strings.Contains(errb.String(), "pw1") {
		t.Errorf("prompt: %q", errb.String())
	}
	subs, _, _ := store.Open(path).Subscribers()
	if len(subs) != 1 || subs[0].HA1 != auth.HA1(auth.MD5, "alice", "example.com", "pw1") || subs[0].Password != "" {
		t.Fatalf("stored: %+v", subs)
	}
}

// TestHardening_UserAdd_Permissions: a new file is 0600; a file others
// may read gets a warning naming it and the fix.
func TestHardening_UserAdd_Permissions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kemi.db")
	var out, errb bytes.Buffer
	if rc := userMain([]string{"add", "-db", path, "alice@example.com", "pw"}, nil, &out, &errb); rc != 0 {
		t.Fatal(errb.String())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode %04o", fi.Mode().Perm())
	}
	if errb.Len() != 0 {
		t.Fatalf("warning on a 0600 file: %s", errb.String())
	}
	for _, mode := range []os.FileMode{0o644, 0o660, 0o602} {
		os.Chmod(path, mode)
		errb.Reset()
		if rc := userMain([]string{"list", "-db", path}, nil, &out, &errb); rc != 0 {
			t.Fatal(errb.String())
		}
		if !strings.Contains(errb.String(), "warning: "+path) || !strings.Contains(errb.String(), "chmod 600 "+path) {
			t.Errorf("mode %04o: %q", mode, errb.String())
		}
	}
}
