package dispatcher

import (
	"fmt"
	"strconv"
	"strings"

	"kemi/core"
	"kemi/internal/sqldb"
)

// The sets from Kamailio's dispatcher table (db_url, table_name and the
// *_col params), read at start and on every reload. Each row becomes a
// line of the list-file format, so a row is checked exactly as a line
// of dispatcher.list is, and an error names the row by its id.

func (m *Module) openSQL(rt *core.Runtime, url string) error {
	cols := []string{"setid_col", "destination_col", "flags_col", "priority_col", "attrs_col"}
	names := make([]string, 0, len(cols)+1)
	for _, c := range append([]string{"table_name"}, cols...) {
		v := param(rt, c).S
		if !validIdent(v) {
			return fmt.Errorf(`modparam("dispatcher", %q, %s): expected a table or column name (letters, digits, _)`, c, core.LogQuote(v))
		}
		names = append(names, v)
	}
	db, err := sqldb.Shared(url, sqldb.Options{Workers: 1})
	if err != nil {
		return fmt.Errorf(`modparam("dispatcher", "db_url"): %w`, err)
	}
	m.db = db
	if w := db.CheckVersion(names[0], "dispatcher"); w != "" && rt.Log != nil {
		rt.Log.Log(core.LWarn, nil, "dispatcher: "+w)
	}
	q := "SELECT "
	for i, c := range names[1:] {
		if i > 0 {
			q += ", "
		}
		q += db.Quote(c)
	}
	m.dbQ = q + " FROM " + db.Quote(names[0]) + " ORDER BY " + db.Quote(names[1]) + ", " + db.Quote(names[4]) + " DESC"
	return nil
}

// loadSQL reads the table into a List.
func (m *Module) loadSQL() (*List, error) {
	rows, done, err := m.db.Query(m.dbQ)
	if err != nil {
		return nil, fmt.Errorf("dispatcher: loading the sets: %w", err)
	}
	defer done()
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var set, flags, prio int64
		var dest string
		var attrs *string
		if err := rows.Scan(&set, &dest, &flags, &prio, &attrs); err != nil {
			return nil, fmt.Errorf("dispatcher: %s: %w", m.db.URL, err)
		}
		if b.Len() > MaxListBytes {
			return nil, fmt.Errorf("dispatcher: %s: the table holds more than %d bytes of sets", m.db.URL, MaxListBytes)
		}
		if strings.ContainsAny(dest, " \t\r\n") {
			return nil, fmt.Errorf("dispatcher: %s: set %d: destination %s holds white space", m.db.URL, set, core.LogQuote(dest))
		}
		b.WriteString(strconv.FormatInt(set, 10) + " " + dest + " " + strconv.FormatInt(flags, 10) + " " + strconv.FormatInt(prio, 10))
		if attrs != nil && *attrs != "" {
			if strings.ContainsAny(*attrs, " \t\r\n") {
				return nil, fmt.Errorf("dispatcher: %s: set %d %s: attrs %s hold white space", m.db.URL, set, dest, core.LogQuote(*attrs))
			}
			b.WriteString(" " + *attrs)
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("dispatcher: loading the sets: %w", err)
	}
	return ParseList(m.db.URL.String()+" table", []byte(b.String()), m.opt)
}

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

// redactURL masks the password of a URL for an error.
func redactURL(s string) string {
	i := strings.Index(s, "://")
	at := strings.LastIndexByte(s, '@')
	if i < 0 || at < i {
		return s
	}
	if c := strings.IndexByte(s[i+3:at], ':'); c >= 0 {
		return s[:i+3+c] + ":***" + s[at:]
	}
	return s
}
