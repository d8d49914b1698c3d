// Package sqldb opens the SQL databases Kamailio's db_url names
// (db_postgres's postgres:// and db_mysql's mysql://) through
// database/sql with pgx and go-sql-driver/mysql, and smooths over the
// two dialects: placeholders ('?' in kemi's queries, $n for
// PostgreSQL), identifier quoting and upserts.
//
// A DB is a pool sized by the number of workers (each worker blocks on
// at most one statement at a time) and every statement runs under a
// timeout, so a database that hangs costs a worker at most that long.
// Modules configured with the same db_url share one pool (Shared).
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Dialect is the SQL flavour of a database.
type Dialect int

const (
	Postgres Dialect = iota + 1
	MySQL
)

func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "unknown"
}

// URL is a parsed Kamailio db_url: scheme://[user[:password]@]host[:port]/database.
type URL struct {
	Dialect  Dialect
	User     string
	Password string
	Host     string
	Port     int
	Database string
	raw      string
}

// String is the URL with the password masked, for logs and errors.
func (u URL) String() string {
	var b strings.Builder
	b.WriteString(u.Dialect.String())
	b.WriteString("://")
	if u.User != "" {
		b.WriteString(u.User)
		if u.Password != "" {
			b.WriteString(":***")
		}
		b.WriteByte('@')
	}
	b.WriteString(net.JoinHostPort(u.Host, strconv.Itoa(u.Port)))
	b.WriteByte('/')
	b.WriteString(u.Database)
	return b.String()
}

// IsSQL says whether a db_url names a database this package opens.
func IsSQL(dbURL string) bool {
	s := strings.ToLower(dbURL)
	for _, p := range []string{"postgres://", "postgresql://", "pgsql://", "mysql://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// ParseURL reads a Kamailio db_url. The schemes are postgres (also
// postgresql, pgsql) and mysql; the port defaults to 5432 or 3306.
// The password may hold '@' and ':': the host starts after the last '@'.
func ParseURL(s string) (URL, error) {
	u := URL{raw: s}
	i := strings.Index(s, "://")
	if i < 0 {
		return u, fmt.Errorf("sqldb: db_url %q: want scheme://user:password@host:port/database", s)
	}
	switch strings.ToLower(s[:i]) {
	case "postgres", "postgresql", "pgsql":
		u.Dialect, u.Port = Postgres, 5432
	case "mysql":
		u.Dialect, u.Port = MySQL, 3306
	default:
		return u, fmt.Errorf("sqldb: db_url %q: scheme %q is not postgres or mysql", redact(s), s[:i])
	}
	rest := s[i+3:]
	slash := strings.LastIndexByte(rest, '/')
	if slash < 0 || slash == len(rest)-1 {
		return u, fmt.Errorf("sqldb: db_url %q: no database name after the last '/'", redact(s))
	}
	u.Database = rest[slash+1:]
	if q := strings.IndexByte(u.Database, '?'); q >= 0 {
		u.Database = u.Database[:q]
	}
	hostport := rest[:slash]
	if at := strings.LastIndexByte(hostport, '@'); at >= 0 {
		cred := hostport[:at]
		hostport = hostport[at+1:]
		if c := strings.IndexByte(cred, ':'); c >= 0 {
			u.User, u.Password = cred[:c], cred[c+1:]
		} else {
			u.User = cred
		}
		if p, err := url.PathUnescape(u.Password); err == nil {
			u.Password = p
		}
	}
	u.Host = hostport
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return u, fmt.Errorf("sqldb: db_url %q: bad port %q", redact(s), p)
		}
		u.Host, u.Port = h, n
	}
	if u.Host == "" {
		return u, fmt.Errorf("sqldb: db_url %q: no host", redact(s))
	}
	return u, nil
}

// redact masks the password of a db_url that did not parse.
func redact(s string) string {
	i := strings.Index(s, "://")
	at := strings.LastIndexByte(s, '@')
	if i < 0 || at < i {
		return s
	}
	cred := s[i+3 : at]
	if c := strings.IndexByte(cred, ':'); c >= 0 {
		return s[:i+3] + cred[:c] + ":***" + s[at:]
	}
	return s
}

// Options size the pool and bound the time a statement may take.
type Options struct {
	// Workers is the number of SIP workers that may use the pool at the
	// same time; the pool keeps that many connections (plus 2 for
	// timers and RPC). 0 means 8, Kamailio's default children.
	Workers int
	// Timeout bounds each statement (0: 5 s).
	Timeout time.Duration
	// ConnectTimeout bounds opening a connection (0: 3 s).
	ConnectTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 3 * time.Second
	}
	return o
}

// DB is an open pool on one database.
type DB struct {
	*sql.DB
	Dialect Dialect
	URL     URL
	Timeout time.Duration

	key    string
	shared *sharedEntry
}

// Open opens a pool on the database a db_url names. It does not
// connect: the first statement does, so kemi starts while the database
// is still coming up. Ping checks it.
func Open(dbURL string, o Options) (*DB, error) {
	u, err := ParseURL(dbURL)
	if err != nil {
		return nil, err
	}
	o = o.withDefaults()
	var db *sql.DB
	switch u.Dialect {
	case Postgres:
		cfg, err := pgx.ParseConfig("")
		if err != nil {
			return nil, fmt.Errorf("sqldb: %s: %w", u, err)
		}
		cfg.Host, cfg.Port = u.Host, uint16(u.Port)
		cfg.User, cfg.Password, cfg.Database = u.User, u.Password, u.Database
		cfg.ConnectTimeout = o.ConnectTimeout
		cfg.Fallbacks = nil
		cfg.TLSConfig = nil
		cfg.RuntimeParams["application_name"] = "kemi"
		// Scripts build SQL text with $(var(x){sql.val}), which escapes
		// a backslash with a backslash, as MySQL reads it (issue 18);
		// PostgreSQL reads it so with standard_conforming_strings off.
		// kemi's own statements use parameters, which neither affects.
		cfg.RuntimeParams["standard_conforming_strings"] = "off"
		cfg.RuntimeParams["escape_string_warning"] = "off"
		db = stdlib.OpenDB(*cfg)
	case MySQL:
		cfg := mysql.NewConfig()
		cfg.User, cfg.Passwd, cfg.DBName = u.User, u.Password, u.Database
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(u.Host, strconv.Itoa(u.Port))
		cfg.Timeout = o.ConnectTimeout
		// No ReadTimeout: every statement runs under a context (the
		// timeout of the handle that runs it), which the driver obeys,
		// and handles sharing the pool may ask for different ones.
		cfg.ParseTime = true
		cfg.Loc = time.Local
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			return nil, fmt.Errorf("sqldb: %s: %w", u, err)
		}
		db = sql.OpenDB(c)
	}
	db.SetMaxOpenConns(o.Workers + 2)
	db.SetMaxIdleConns(o.Workers + 2)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(30 * time.Minute)
	return &DB{DB: db, Dialect: u.Dialect, URL: u, Timeout: o.Timeout}, nil
}

func init() {
	// database/sql retries a pooled connection the server closed (idle
	// timeout, restart) on a fresh one; the driver's note about each
	// such connection would go to stderr past kemi's log. What fails
	// for good reaches the caller as an error.
	mysql.SetLogger(log.New(io.Discard, "", 0))
}

type sharedEntry struct {
	db   *DB
	refs int
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*sharedEntry{}
)

// Shared returns the pool for a db_url, opening it on first use; each
// module that asks for the same URL gets the same pool, sized for the
// largest Workers asked, through a handle with its own Timeout. Close gives a handle back; the last Close
// closes the pool.
func Shared(dbURL string, o Options) (*DB, error) {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	o = o.withDefaults()
	if e, ok := shared[dbURL]; ok {
		e.refs++
		if o.Workers+2 > e.db.Stats().MaxOpenConnections {
			e.db.SetMaxOpenConns(o.Workers + 2)
			e.db.SetMaxIdleConns(o.Workers + 2)
		}
		return &DB{DB: e.db.DB, Dialect: e.db.Dialect, URL: e.db.URL, Timeout: o.Timeout, key: dbURL, shared: e}, nil
	}
	db, err := Open(dbURL, o)
	if err != nil {
		return nil, err
	}
	e := &sharedEntry{db: db, refs: 1}
	shared[dbURL] = e
	return &DB{DB: db.DB, Dialect: db.Dialect, URL: db.URL, Timeout: o.Timeout, key: dbURL, shared: e}, nil
}

// Close closes the pool, or gives back a Shared handle.
func (d *DB) Close() error {
	if d == nil {
		return nil
	}
	if d.shared == nil {
		return d.DB.Close()
	}
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if d.shared.refs <= 0 {
		return nil
	}
	d.shared.refs--
	if d.shared.refs > 0 {
		return nil
	}
	if shared[d.key] == d.shared {
		delete(shared, d.key)
	}
	return d.shared.db.DB.Close()
}

// Ctx is a context bounded by the pool's statement timeout.
func (d *DB) Ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.Timeout)
}

// Rebind turns kemi's '?' placeholders into the dialect's: $1, $2, ...
// for PostgreSQL; MySQL keeps '?'. A '?' inside a quoted string or
// identifier stays as it is.
func (d *DB) Rebind(q string) string {
	if d.Dialect != Postgres || strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Quote quotes an identifier (a table or column name) for the dialect.
func (d *DB) Quote(ident string) string {
	if d.Dialect == MySQL {
		return "`" + strings.ReplaceAll(ident, "`", "``") + "`"
	}
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// Insert is "INSERT INTO table (cols) VALUES (?, ...)" with kemi's
// '?' placeholders (Rebind them before use, or use Exec).
func (d *DB) Insert(table string, cols []string) string {
	var b strings.Builder
	b.WriteString("INSERT INTO ")
	b.WriteString(d.Quote(table))
	b.WriteString(" (")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.Quote(c))
	}
	b.WriteString(") VALUES (")
	for i := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
	}
	b.WriteByte(')')
	return b.String()
}

// Upsert is an INSERT of cols that updates the row instead when the
// unique key made of keys already exists: ON CONFLICT (keys) DO UPDATE
// for PostgreSQL (keys must be a unique index), ON DUPLICATE KEY UPDATE
// for MySQL. The columns not in keys are updated.
func (d *DB) Upsert(table string, cols, keys []string) string {
	ins := d.Insert(table, cols)
	isKey := func(c string) bool {
		for _, k := range keys {
			if k == c {
				return true
			}
		}
		return false
	}
	var b strings.Builder
	b.WriteString(ins)
	if d.Dialect == MySQL {
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
	} else {
		b.WriteString(" ON CONFLICT (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(d.Quote(k))
		}
		b.WriteString(") DO UPDATE SET ")
	}
	first := true
	for _, c := range cols {
		if isKey(c) {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		q := d.Quote(c)
		if d.Dialect == MySQL {
			b.WriteString(q + " = VALUES(" + q + ")")
		} else {
			b.WriteString(q + " = EXCLUDED." + q)
		}
	}
	if first { // every column is a key: nothing to update
		if d.Dialect == MySQL {
			q := d.Quote(keys[0])
			b.WriteString(q + " = " + q)
		} else {
			return ins + " ON CONFLICT DO NOTHING"
		}
	}
	return b.String()
}

// Exec runs a statement written with '?' placeholders under the
// statement timeout.
func (d *DB) Exec(q string, args ...any) (sql.Result, error) {
	ctx, cancel := d.Ctx()
	defer cancel()
	r, err := d.DB.ExecContext(ctx, d.Rebind(q), args...)
	if err != nil {
		return nil, d.wrap(q, err)
	}
	return r, nil
}

// Query runs a query written with '?' placeholders; the caller closes
// the rows and then calls the returned cancel.
func (d *DB) Query(q string, args ...any) (*sql.Rows, context.CancelFunc, error) {
	ctx, cancel := d.Ctx()
	rows, err := d.DB.QueryContext(ctx, d.Rebind(q), args...)
	if err != nil {
		cancel()
		return nil, func() {}, d.wrap(q, err)
	}
	return rows, cancel, nil
}

// Ping connects (if no connection is open) under the connect timeout.
func (d *DB) Ping() error {
	ctx, cancel := d.Ctx()
	defer cancel()
	if err := d.DB.PingContext(ctx); err != nil {
		return fmt.Errorf("sqldb: %s: %w", d.URL, err)
	}
	return nil
}

func (d *DB) wrap(q string, err error) error {
	if len(q) > 200 {
		q = q[:200] + "..."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("sqldb: %s: %q: no answer within %v: %w", d.URL, q, d.Timeout, err)
	}
	return fmt.Errorf("sqldb: %s: %q: %w", d.URL, q, err)
}

// String formats a value scanned from a row the way Kamailio's db
// layer prints it: NULL is "", times are "YYYY-MM-DD HH:MM:SS" (wall
// clock as stored), bytes are the text.
func String(v any) (s string, null bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, false
	case []byte:
		return string(x), false
	case int64:
		return strconv.FormatInt(x, 10), false
	case int32:
		return strconv.FormatInt(int64(x), 10), false
	case uint64:
		return strconv.FormatUint(x, 10), false
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), false
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32), false
	case bool:
		if x {
			return "1", false
		}
		return "0", false
	case time.Time:
		return x.Format("2006-01-02 15:04:05"), false
	}
	return fmt.Sprint(v), false
}
