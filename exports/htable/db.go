package htable

import (
	"fmt"
	"strconv"
	"time"

	"kemi/core"
	"kemi/internal/sqldb"
)

// Tables with dbtable= are loaded at start from the db_url database, in
// Kamailio's htable layout: key_name, key_type (0 a plain name, 1 an
// array: the rows become name[0], name[1], ... and name::size),
// value_type (0 string, 1 integer), key_value, expires (Unix time, 0
// never; a row already expired is skipped). dbmode=1 writes the items
// back at a clean stop (the rows are replaced in one transaction), as
// Kamailio's dbmode 1 does at shutdown; a write-back that fails is
// logged with each item it could not keep.

// validIdent says whether s may be used as a table name.
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

func dbURL(rt *core.Runtime) string { return rt.Param("htable", "db_url").S }

func loadDB(rt *core.Runtime, ts *Tables) error {
	var db *sqldb.DB
	for _, t := range ts.byName {
		if t.DBTable == "" {
			continue
		}
		if db == nil {
			u := dbURL(rt)
			if !sqldb.IsSQL(u) {
				return fmt.Errorf(`htable %s: dbtable=%s needs modparam("htable", "db_url", "postgres://..." or "mysql://..."), got %s`, t.Name, t.DBTable, core.LogQuote(u))
			}
			var err error
			if db, err = sqldb.Shared(u, sqldb.Options{Workers: 1}); err != nil {
				return fmt.Errorf(`modparam("htable", "db_url"): %w`, err)
			}
			defer db.Close()
		}
		if w := db.CheckVersion(t.DBTable, "htable"); w != "" && rt.Log != nil {
			rt.Log.Log(core.LWarn, nil, "htable "+t.Name+": "+w)
		}
		if err := loadTable(db, t); err != nil {
			return err
		}
	}
	return nil
}

func loadTable(db *sqldb.DB, t *Table) error {
	rows, done, err := db.Query("SELECT key_name, key_type, value_type, key_value, expires FROM " + db.Quote(t.DBTable))
	if err != nil {
		return fmt.Errorf("htable %s: loading dbtable %s: %w", t.Name, t.DBTable, err)
	}
	defer done()
	defer rows.Close()
	now := time.Now().Unix()
	arrays := map[string]int64{}
	for rows.Next() {
		var name, value string
		var ktype, vtype, expires int64
		if err := rows.Scan(&name, &ktype, &vtype, &value, &expires); err != nil {
			return fmt.Errorf("htable %s: dbtable %s: %w", t.Name, t.DBTable, err)
		}
		if expires > 0 && expires <= now {
			continue
		}
		key := name
		if ktype == 1 {
			key = name + "[" + strconv.FormatInt(arrays[name], 10) + "]"
			arrays[name]++
		}
		it := item{s: value, str: true}
		if vtype == 1 {
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				return fmt.Errorf("htable %s: dbtable %s: key %s: value_type 1 (integer) but key_value %s", t.Name, t.DBTable, core.LogQuote(name), core.LogQuote(value))
			}
			it = item{n: n}
		}
		exp := 0
		if expires > 0 {
			exp = int(expires - now)
		}
		t.Set(key, it, exp)
	}
	for name, n := range arrays {
		t.Set(name+"::size", item{n: n}, 0)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("htable %s: loading dbtable %s: %w", t.Name, t.DBTable, err)
	}
	return nil
}

// saveDB writes the items of the dbmode=1 tables back (stop).
func saveDB(rt *core.Runtime) {
	ts := tables.Peek(rt)
	if ts == nil {
		return
	}
	for _, t := range ts.byName {
		if t.DBTable == "" || t.DBMode != 1 {
			continue
		}
		items := snapshot(t)
		if err := saveTable(dbURL(rt), t, items); err != nil && rt.Log != nil {
			rt.Log.Log(core.LErr, nil, fmt.Sprintf("htable %s: writing back to dbtable %s: %v; the %d items not kept follow", t.Name, t.DBTable, err, len(items)))
			for i, kv := range items {
				if i == maxLoggedItems {
					rt.Log.Log(core.LErr, nil, fmt.Sprintf("htable %s: ... and %d more", t.Name, len(items)-i))
					break
				}
				rt.Log.Log(core.LErr, nil, "htable "+t.Name+": "+core.LogQuote(kv.key)+" = "+core.LogQuote(itemText(&kv.it)))
			}
		}
	}
}

// maxLoggedItems bounds the items a failed write-back logs one by one.
const maxLoggedItems = 1000

type keyItem struct {
	key string
	it  item
}

// snapshot copies the live items, so no shard lock is held during SQL.
func snapshot(t *Table) []keyItem {
	var out []keyItem
	t.Each(func(k string, it *item) action {
		out = append(out, keyItem{k, *it})
		return keep
	})
	return out
}

func itemText(it *item) string {
	if it.str {
		return it.s
	}
	return strconv.FormatInt(it.n, 10)
}

func saveTable(url string, t *Table, items []keyItem) error {
	db, err := sqldb.Shared(url, sqldb.Options{Workers: 1, Timeout: 30 * time.Second})
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := db.Ctx()
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+db.Quote(t.DBTable)); err != nil {
		return err
	}
	ins := db.Rebind(db.Insert(t.DBTable, []string{"key_name", "key_type", "value_type", "key_value", "expires"}))
	for _, kv := range items {
		vtype := 0
		if !kv.it.str {
			vtype = 1
		}
		var exp int64
		if t.Autoexpire > 0 && kv.it.exp > 0 {
			exp = kv.it.exp / int64(time.Second)
		}
		if _, err := tx.ExecContext(ctx, ins, kv.key, 0, vtype, itemText(&kv.it), exp); err != nil {
			return fmt.Errorf("key %s: %w", core.LogQuote(kv.key), err)
		}
	}
	return tx.Commit()
}

// reloadDB reads a dbtable= table again (htable.reload, as Kamailio's):
// the rows are read into a scratch table first, so a database error
// leaves the running items alone; then the items are replaced at once
// by the database's. It returns how many items the table now holds.
func reloadDB(rt *core.Runtime, t *Table) (int, error) {
	u := dbURL(rt)
	if !sqldb.IsSQL(u) {
		return 0, fmt.Errorf(`dbtable=%s needs modparam("htable", "db_url", "postgres://..." or "mysql://..."), got %s`, t.DBTable, core.LogQuote(u))
	}
	db, err := sqldb.Shared(u, sqldb.Options{Workers: 1})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	scratch := newTable(t.Name, 4)
	scratch.Autoexpire, scratch.now, scratch.DBTable = t.Autoexpire, t.now, t.DBTable
	if err := loadTable(db, scratch); err != nil {
		return 0, err
	}
	t.resetLocal()
	n := 0
	scratch.Each(func(key string, it *item) action {
		t.setLocal(key, *it)
		n++
		return keep
	})
	return n, nil
}
