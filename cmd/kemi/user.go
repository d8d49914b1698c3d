package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"kemi/exports/auth"
	"kemi/internal/store"
)

const userUsage = `usage:
  kemi user add [-db PATH] [--ha1] USER@DOMAIN [PASSWORD|-]
  kemi user del [-db PATH] USER@DOMAIN
  kemi user list [-db PATH]

Manages the subscribers auth_db checks, in kemi's database file (default:
$KEMI_DB, /var/lib/kemi/kemi.db for root, ~/.local/state/kemi/kemi.db
otherwise; a running server picks changes up within a second).
A PASSWORD of "-" or none is read from standard input, so it stays out of
the shell history. --ha1 keeps only H(user:domain:password) in MD5 and
SHA-256, not the password; it then works for realm = DOMAIN only.
`

// userCmd runs `kemi user ...`.
func userCmd(args []string, stdout, stderr io.Writer) int {
	return userMain(args, os.Stdin, stdout, stderr)
}

func userMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, userUsage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	sub := args[0]
	fs := flag.NewFlagSet("kemi user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, userUsage) }
	path := fs.String("db", store.DefaultPath(), "database file")
	ha1 := fs.Bool("ha1", false, "store the HA1 values instead of the password")
	// Flags may come after the positional arguments too.
	var pos []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	db := store.Open(*path)
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kemi user %s: %v\n", sub, err)
		return 1
	}
	switch sub {
	case "add":
		if len(pos) < 1 || len(pos) > 2 {
			fmt.Fprintf(stderr, "kemi user add: expected USER@DOMAIN [PASSWORD], got %d arguments\n%s", len(pos), userUsage)
			return 2
		}
		user, domain, err := store.SplitUser(pos[0])
		if err != nil {
			return fail(err)
		}
		pw := "-"
		if len(pos) == 2 {
			pw = pos[1]
		}
		if pw == "-" {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fail(fmt.Errorf("reading the password from standard input: %w", err))
			}
			pw = strings.TrimRight(line, "\r\n")
		}
		if pw == "" {
			return fail(errors.New("empty password"))
		}
		s := store.Subscriber{User: user, Domain: domain}
		if *ha1 {
			s.HA1 = auth.HA1(auth.MD5, user, domain, pw)
			s.HA1SHA256 = auth.HA1(auth.SHA256, user, domain, pw)
		} else {
			s.Password = pw
		}
		if err := db.PutSubscriber(s); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "added %s to %s\n", s.Key(), db.Path())
		return 0
	case "del":
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "kemi user del: expected USER@DOMAIN, got %d arguments\n", len(pos))
			return 2
		}
		if _, _, err := store.SplitUser(pos[0]); err != nil {
			return fail(err)
		}
		if err := db.DeleteSubscriber(pos[0]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "deleted %s from %s\n", pos[0], db.Path())
		return 0
	case "list":
		if len(pos) != 0 {
			fmt.Fprintf(stderr, "kemi user list: unexpected argument %q\n", pos[0])
			return 2
		}
		subs, _, err := db.Subscribers()
		if err != nil {
			return fail(err)
		}
		// Secrets are never printed, only which kind is kept.
		tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tSECRET")
		for _, s := range subs {
			kind := "password"
			if s.Password == "" {
				kind = "ha1"
			}
			fmt.Fprintf(tw, "%s\t%s\n", s.Key(), kind)
		}
		tw.Flush()
		return 0
	}
	fmt.Fprintf(stderr, "kemi user: unknown subcommand %q\n%s", sub, userUsage)
	return 2
}
