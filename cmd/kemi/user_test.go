package main

import (
	"bytes"
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
	if rc, _, e := run("bobpw\n", "add", "bob@example.com", "-db", path, "--ha1"); rc != 0 {
		t.Fatalf("add --ha1: %d %s", rc, e)
	}
	rc, out, _ := run("", "list", "-db", path)
	if rc != 0 || out != "USER               SECRET\nalice@example.com  password\nbob@example.com    ha1\n" {
		t.Fatalf("list: %d\n%q", rc, out)
	}
	if strings.Contains(out, "s3cret") {
		t.Fatal("list printed a password")
	}
	subs, _, _ := store.Open(path).Subscribers()
	if len(subs) != 2 || subs[0].Password != "s3cret" || subs[1].Password != "" ||
		subs[1].HA1 != auth.HA1(auth.MD5, "bob", "example.com", "bobpw") ||
		subs[1].HA1SHA256 != auth.HA1(auth.SHA256, "bob", "example.com", "bobpw") {
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
	if rc, _, e := run("", "add", "-db", path, "carol@example.com"); rc != 1 || !strings.Contains(e, "empty password") {
		t.Errorf("empty stdin: %d %s", rc, e)
	}
}
