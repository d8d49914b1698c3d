package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"

	"kemi/internal/sqldb"
	"kemi/internal/store"
)

const dbUsage = `usage:
  kemi db check [FILE]
  kemi db init [-f CONFIG] [DB_URL]

init creates Kamailio's tables, as kamdbctl create does, in the SQL
database DB_URL (postgres://user:password@host:port/db or mysql://...;
default: $KEMI_DB_URL, else the db_url of CONFIG): version, subscriber,
location, location_attrs, aliases, address, trusted, dispatcher, acc,
acc_cdrs, missed_calls and htable, with Kamailio 5.6's column names, types,
indexes and version rows, so Kamailio and kemi can share the database. A
table that exists is left as it is. The database itself must exist.

check reads a kemi database file (default: the file kemi user uses:
$KEMI_DB, /var/lib/kemi/kemi.db for root, ~/.local/state/kemi/kemi.db
otherwise) completely: its bbolt meta pages, every page in use, and every
subscriber and binding. It prints what it found and exits 0 when the file
is whole, 1 when it is damaged (with how to recover), 2 on bad usage.
It only reads, and may run while a server uses the file.

A damaged file cannot be repaired in place. Move it aside
(mv FILE FILE.bad) and start again: phones register again within their
expiry, subscribers are added again with kemi user add. A running server
keeps what it read last and writes every binding it holds to the new file.
`

// dbCmd runs `kemi db ...`.
func dbCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, dbUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "check":
		path := store.DefaultPath()
		switch len(args) {
		case 1:
		case 2:
			path = args[1]
		default:
			fmt.Fprintf(stderr, "kemi db check: expected at most one FILE, got %d arguments\n%s", len(args)-1, dbUsage)
			return 2
		}
		return dbCheck(path, stdout, stderr)
	case "init":
		return dbInit(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "kemi db: unknown subcommand %q\n%s", args[0], dbUsage)
	return 2
}

func dbCheck(path string, stdout, stderr io.Writer) int {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(stderr, "kemi db check: %s does not exist (a server or kemi user add creates it)\n", path)
		} else {
			fmt.Fprintf(stderr, "kemi db check: %v\n", err)
		}
		return 1
	}
	fmt.Fprintf(stdout, "file:        %s, %d bytes, mode %04o\n", path, fi.Size(), fi.Mode().Perm())
	warnLoosePerms(path, stderr)
	rep, err := store.Open(path).Check()
	if in := rep.Info; in != nil && in.PageSize > 0 {
		fmt.Fprintf(stdout, "page size:   %d\n", in.PageSize)
		for i, m := range in.Meta {
			if int64(i)*int64(in.PageSize)+80 > in.Size {
				fmt.Fprintf(stdout, "meta page %d: missing (the file ends before it)\n", i)
				continue
			}
			state := "ok"
			if in.MetaErr[i] != "" {
				state = in.MetaErr[i]
			}
			use := ""
			if in.Use == i {
				use = ", in use"
			}
			fmt.Fprintf(stdout, "meta page %d: transaction %d, %d pages%s: %s\n", i, m.TxID, m.HWM, use, state)
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "damaged:     %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "subscribers: %d (%d with a plaintext password)\n", rep.Subscribers, rep.Plain)
	names := make([]string, 0, len(rep.Tables))
	for n := range rep.Tables {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "table %s: %d addresses of record, %d bindings\n", n, rep.Tables[n][0], rep.Tables[n][1])
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(stdout, "bad record:  %s\n", p)
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(stdout, "damaged:     %d records do not decode; a server refuses to start on them: move the file aside (mv %s %s.bad)\n", len(rep.Problems), path, path)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// warnLoosePerms warns when others than the owner may read or write the
// database file: it holds HA1 values (or passwords) and registrations.
func warnLoosePerms(path string, stderr io.Writer) {
	if mode, loose := store.LoosePerms(path); loose {
		fmt.Fprintf(stderr, "warning: %s has mode %04o: group or others may read or change the subscribers' secrets; fix: chmod 600 %s\n",
			path, mode, path)
	}
}

func dbInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kemi db init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, dbUsage) }
	cfg := fs.String("f", "", "config file whose db_url to use")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "kemi db init: expected at most one DB_URL, got %d arguments\n%s", fs.NArg(), dbUsage)
		return 2
	}
	u, err := sqlURL(fs.Arg(0), *cfg)
	if err == nil && u == "" {
		err = errors.New("no database: give DB_URL, set $KEMI_DB_URL or -f CONFIG")
	}
	if err != nil {
		fmt.Fprintf(stderr, "kemi db init: %v\n", err)
		return 2
	}
	db, err := sqldb.Open(u, sqldb.Options{Workers: 1})
	if err != nil {
		fmt.Fprintf(stderr, "kemi db init: %v\n", err)
		return 1
	}
	defer db.Close()
	created, existing, err := db.Init(sqldb.Tables)
	if err != nil {
		fmt.Fprintf(stderr, "kemi db init: %v\n", err)
		return 1
	}
	for _, n := range created {
		fmt.Fprintf(stdout, "created %s\n", n)
	}
	for _, n := range existing {
		fmt.Fprintf(stdout, "exists  %s (left as it is)\n", n)
	}
	fmt.Fprintf(stdout, "%s: %d tables created, %d already there\n", db.URL, len(created), len(existing))
	return 0
}
