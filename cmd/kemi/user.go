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

	"golang.org/x/term"

	"kemi/exports/auth"
	"kemi/internal/store"
)

const userUsage = `usage:
  kemi user add [-db PATH | -db-url URL | -f CONFIG] [--plain] USER@DOMAIN [PASSWORD|-]
  kemi user del [-db PATH | -db-url URL | -f CONFIG] USER@DOMAIN
  kemi user list [-db PATH | -db-url URL | -f CONFIG]

Manages the subscribers auth_db checks, in kemi's database file (default:
$KEMI_DB, /var/lib/kemi/kemi.db for root, ~/.local/state/kemi/kemi.db
otherwise; a running server picks changes up within a second). A new
file is created with mode 0600; a file others may read gets a warning.

Without PASSWORD, add asks for it on the terminal without echo (twice);
when standard input is not a terminal, or PASSWORD is "-", it reads one
line from standard input. Either way it stays out of the shell history.

add stores H(USER:DOMAIN:PASSWORD) in MD5 and SHA-256 (the HA1 values),
not the password: that works with auth_db's calculate_ha1 0 (Kamailio's
default) for realm = DOMAIN, which is the usual case (the realm is the
From host). --plain stores the password as well, for calculate_ha1 1 or
realms other than DOMAIN. --ha1 is the default and accepted.

With an SQL database (-db-url postgres://user:pass@host:port/db or
mysql://..., else $KEMI_DB_URL, else auth_db's db_url in the config file
given with -f) the subscribers are Kamailio's subscriber table (see kemi
db init): add writes username, domain, ha1 = MD5(USER:DOMAIN:PASSWORD) and
ha1b = MD5(USER@DOMAIN:DOMAIN:PASSWORD) as kamctl add does, and the
password column only with --plain; a subscriber that exists is updated.
Every node reading the table sees the change at its next check.
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
	plain := fs.Bool("plain", false, "store the plaintext password too (calculate_ha1 1)")
	fs.Bool("ha1", true, "store only the HA1 values (the default)")
	dbURL := fs.String("db-url", "", "SQL database (postgres://... or mysql://...) holding Kamailio's subscriber table")
	cfgPath := fs.String("f", "", "config file whose auth_db db_url names the SQL database")
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
	fail := func(err error) int {
		fmt.Fprintf(stderr, "kemi user %s: %v\n", sub, err)
		return 1
	}
	su, err := sqlURL(*dbURL, *cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "kemi user %s: %v\n", sub, err)
		return 2
	}
	var sdb *sqlUsers
	if su != "" {
		if sdb, err = openSQLUsers(su); err != nil {
			return fail(err)
		}
		defer sdb.Close()
	}
	db := store.Open(*path)
	if sdb == nil {
		warnLoosePerms(*path, stderr)
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
		pw := ""
		switch {
		case len(pos) == 2 && pos[1] != "-":
			pw = pos[1]
		case len(pos) == 1 && terminal.is(stdin):
			pw, err = askPassword(stdin, stderr, pos[0])
			if err != nil {
				return fail(err)
			}
		default:
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && !errors.Is(err, io.EOF) {
				return fail(fmt.Errorf("reading the password from standard input: %w", err))
			}
			pw = strings.TrimRight(line, "\r\n")
		}
		if pw == "" {
			return fail(errors.New("empty password"))
		}
		s := store.Subscriber{User: user, Domain: domain,
			HA1:       auth.HA1(auth.MD5, user, domain, pw),
			HA1SHA256: auth.HA1(auth.SHA256, user, domain, pw)}
		if *plain {
			s.Password = pw
		}
		if sdb != nil {
			if err := sdb.Put(s, pw); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "added %s to %s\n", s.Key(), sdb.URL)
			return 0
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
		user, domain, err := store.SplitUser(pos[0])
		if err != nil {
			return fail(err)
		}
		if sdb != nil {
			if err := sdb.Delete(user, domain); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "deleted %s from %s\n", pos[0], sdb.URL)
			return 0
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
		var subs []store.Subscriber
		if sdb != nil {
			subs, err = sdb.List()
		} else {
			subs, _, err = db.Subscribers()
		}
		if err != nil {
			return fail(err)
		}
		// Secrets are never printed, only which kind is kept.
		tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tSECRET")
		for _, s := range subs {
			kind := "ha1"
			switch {
			case s.Password != "" && s.HA1 != "":
				kind = "password+ha1"
			case s.Password != "":
				kind = "password"
			}
			fmt.Fprintf(tw, "%s\t%s\n", s.Key(), kind)
		}
		tw.Flush()
		return 0
	}
	fmt.Fprintf(stderr, "kemi user: unknown subcommand %q\n%s", sub, userUsage)
	return 2
}

// terminal tells whether a reader is an interactive terminal and reads
// from it without echo; tests replace it.
var terminal = struct {
	is   func(r io.Reader) bool
	read func(r io.Reader) ([]byte, error)
}{
	is: func(r io.Reader) bool {
		f, ok := r.(*os.File)
		return ok && term.IsTerminal(int(f.Fd()))
	},
	read: func(r io.Reader) ([]byte, error) { return term.ReadPassword(int(r.(*os.File).Fd())) },
}

// askPassword prompts on stderr and reads the password twice from the
// terminal, without echo.
func askPassword(stdin io.Reader, stderr io.Writer, who string) (string, error) {
	fmt.Fprintf(stderr, "Password for %s: ", who)
	a, err := terminal.read(stdin)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	fmt.Fprint(stderr, "Again: ")
	b, err := terminal.read(stdin)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password from the terminal: %w", err)
	}
	if string(a) != string(b) {
		return "", errors.New("the two passwords differ")
	}
	return string(a), nil
}
