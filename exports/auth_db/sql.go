package auth_db

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"kemi/core"
	"kemi/exports/auth"
	"kemi/internal/sqldb"
)

// sqlSubs checks credentials against Kamailio's subscriber table in
// PostgreSQL or MySQL, as Kamailio's auth_db does: one SELECT per
// check, so a subscriber added or changed by any node (or by Kamailio,
// kamctl, kemi user add) counts at once. The columns are the params
// user_column, domain_column, password_column (ha1 by default, or
// password with calculate_ha1 1) and password_column_2 (ha1b, used when
// the digest username holds a domain: user@domain).
type sqlSubs struct {
	db        *sqldb.DB
	useDomain bool
	calcHA1   bool
	cols      [4]string // user, domain, password, password_2
	queries   sync.Map  // table -> [2]string{by user, by user and domain}
}

// sqlTimeout bounds each lookup: a worker waits no longer for the
// database (Kamailio's db_mysql timeout_interval is 2 s as well).
const sqlTimeout = 2 * time.Second

// sqlMsg is the lookup's outcome for the message in hand: the table the
// function named and why the last lookup failed.
type sqlMsg struct {
	table  string
	failed string
}

var sqlMsgs = core.NewMsgState(func(*sqlMsg) sqlMsg { return sqlMsg{} })

// validIdent says whether s may be used as a table or column name.
func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func openSQL(rt *core.Runtime, url string) (*sqlSubs, error) {
	p := func(name string) string { return rt.Param("auth_db", name).S }
	s := &sqlSubs{
		useDomain: rt.Param("auth_db", "use_domain").I != 0,
		calcHA1:   rt.Param("auth_db", "calculate_ha1").I != 0,
		cols:      [4]string{p("user_column"), p("domain_column"), p("password_column"), p("password_column_2")},
	}
	for i, name := range []string{"user_column", "domain_column", "password_column", "password_column_2"} {
		if !validIdent(s.cols[i]) {
			return nil, fmt.Errorf(`modparam("auth_db", %q, %q): want a column name (letters, digits, _)`, name, s.cols[i])
		}
	}
	var err error
	s.db, err = sqldb.Shared(url, sqldb.Options{Workers: workers(rt), Timeout: sqlTimeout})
	if err != nil {
		return nil, fmt.Errorf(`modparam("auth_db", "db_url"): %w`, err)
	}
	return s, nil
}

// workers is the number of SIP workers (children), which sizes the pool.
func workers(rt *core.Runtime) int {
	if v, ok := rt.Globals["children"]; ok && v.Kind == core.KInt && v.I > 0 {
		return int(v.I)
	}
	return 0
}

// query is the SELECT for a table: [0] by user alone, [1] by user and domain.
func (s *sqlSubs) query(table string) ([2]string, bool) {
	if q, ok := s.queries.Load(table); ok {
		return q.([2]string), true
	}
	if !validIdent(table) {
		return [2]string{}, false
	}
	d := s.db
	base := fmt.Sprintf("SELECT %s, %s FROM %s WHERE %s = ?", d.Quote(s.cols[2]), d.Quote(s.cols[3]), d.Quote(table), d.Quote(s.cols[0]))
	q := [2]string{d.Rebind(base + " LIMIT 1"), d.Rebind(base + " AND " + d.Quote(s.cols[1]) + " = ? LIMIT 1")}
	s.queries.Store(table, q)
	return q, true
}

// HA1 implements auth.Secrets with one SELECT.
func (s *sqlSubs) HA1(ctx *core.Ctx, user, realm []byte, alg auth.Alg, dst, buf []byte) ([]byte, []byte, bool) {
	st := &sqlMsg{table: "subscriber"}
	if ctx != nil && ctx.RT != nil {
		st = sqlMsgs.Get(ctx)
		if st.table == "" {
			st.table = "subscriber"
		}
	}
	st.failed = ""
	q, ok := s.query(st.table)
	if !ok {
		st.failed = fmt.Sprintf("table %q is not a table name", st.table)
		return dst, buf, false
	}
	u, dom := string(user), string(realm)
	useCol2 := false
	if at := strings.IndexByte(u, '@'); at >= 0 && !s.calcHA1 {
		// The digest username is user@domain: Kamailio finds the user
		// and checks against password_column_2 (ha1b).
		useCol2 = true
		if !s.useDomain {
			u = u[:at]
		}
	}
	var pw, pw2 sql.NullString
	var err error
	if s.useDomain {
		err = s.scan(q[1], []any{u, dom}, &pw, &pw2)
	} else {
		err = s.scan(q[0], []any{u}, &pw, &pw2)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return dst, buf, false
	}
	if err != nil {
		st.failed = err.Error()
		return dst, buf, false
	}
	secret := pw.String
	if useCol2 {
		secret = pw2.String
	}
	if s.calcHA1 {
		dst, buf = auth.AppendHA1(dst, buf, alg, user, realm, bytesOf(secret))
		return dst, buf, true
	}
	return append(dst, secret...), buf, true
}

// scan runs a one-row query (already in the dialect's placeholders)
// under the lookup timeout.
func (s *sqlSubs) scan(q string, args []any, dest ...any) error {
	ctx, cancel := s.db.Ctx()
	defer cancel()
	return s.db.QueryRowContext(ctx, q, args...).Scan(dest...)
}

// Failed implements auth.FailingSecrets.
func (s *sqlSubs) Failed(ctx *core.Ctx) (string, bool) {
	if ctx == nil || ctx.RT == nil {
		return "", false
	}
	st := sqlMsgs.Get(ctx)
	return st.failed, st.failed != ""
}

// exists says whether the URI's user (and domain) has a row.
func (s *sqlSubs) exists(ctx *core.Ctx, table string, user, domain []byte) (bool, error) {
	if !validIdent(table) {
		return false, fmt.Errorf("table %q is not a table name", table)
	}
	d := s.db
	q := fmt.Sprintf("SELECT 1 FROM %s WHERE %s = ?", d.Quote(table), d.Quote(s.cols[0]))
	args := []any{string(user)}
	if s.useDomain {
		q += " AND " + d.Quote(s.cols[1]) + " = ?"
		args = append(args, string(domain))
	}
	var one int
	err := s.scan(d.Rebind(q+" LIMIT 1"), args, &one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
