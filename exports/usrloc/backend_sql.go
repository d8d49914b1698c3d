package usrloc

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/internal/sqldb"
)

// sqlBackend keeps the bindings in Kamailio's location table (as
// kamdbctl creates it) on PostgreSQL or MySQL/MariaDB, one row per
// binding, so Kamailio's usrloc and kemi can share the table.
//
// A batch is one transaction; per AoR it reads the rows' ruid and
// contact, then updates the rows of the bindings kept (their ruid stays,
// as Kamailio keys its own updates by it), deletes the rows of the
// bindings gone and inserts the new ones. Kamailio's columns map as
// follows: expires and last_modified are local time; q is q/1000; cflags
// holds the branch flags; methods is NULL (all methods: kemi's method
// bits are not Kamailio's); socket, received, path, instance are NULL
// when empty. The table name is usrloc's table ("location").
//
// With db_mode 3 every save and lookup reads the table; with 1 and 2
// the table is read at start and then written only (SQL has no cache
// sync between nodes: several nodes sharing a table use db_mode 3).
type sqlBackend struct {
	u      *Usrloc
	db     *sqldb.DB
	node   string
	seq    atomic.Uint64
	quit   chan struct{}
	done   chan struct{}
	purged atomic.Int64 // rows removed by the purge, for tests
	stmts  atomic.Int64 // statements sent (BEGIN and COMMIT included), for the cost figures
	br     breaker
}

const sqlCols = "ruid, username, domain, contact, received, path, expires, q, callid, cseq, last_modified, flags, cflags, user_agent, socket, methods, instance, reg_id, server_id, connection_id, keepalive, partition"

func openSQL(u *Usrloc, dbURL string, workers int) (backend, error) {
	db, err := sqldb.Open(dbURL, sqldb.Options{Workers: workers, Timeout: 3 * time.Second})
	if err != nil {
		return nil, fmt.Errorf(`modparam("usrloc", "db_url"): %w`, err)
	}
	var id [4]byte
	rand.Read(id[:])
	b := &sqlBackend{u: u, db: db, node: hex.EncodeToString(id[:]), quit: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := db.Ctx()
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("usrloc: %s: %w", db.URL, err)
	}
	go b.purgeLoop()
	return b, nil
}

// cols is sqlCols quoted for the dialect (MySQL reserves "partition").
func (b *sqlBackend) cols() string {
	f := strings.Split(sqlCols, ", ")
	for i := range f {
		f[i] = b.db.Quote(f[i])
	}
	return strings.Join(f, ", ")
}

func (b *sqlBackend) desc() string { return b.db.URL.String() }

func (b *sqlBackend) close() {
	close(b.quit)
	<-b.done
	b.db.Close()
}

func (b *sqlBackend) wantFull(error) bool { return false }
func (b *sqlBackend) written()            {}

// purgeLoop deletes the rows whose bindings ended, as Kamailio's usrloc
// timer does in db_mode 3 (kemi's nodes need not rewrite them).
func (b *sqlBackend) purgeLoop() {
	defer close(b.done)
	tk := time.NewTicker(time.Minute)
	defer tk.Stop()
	for {
		select {
		case <-b.quit:
			return
		case <-tk.C:
			b.purge(time.Now())
		}
	}
}

func (b *sqlBackend) purge(now time.Time) {
	ctx, cancel := b.db.Ctx()
	defer cancel()
	for _, t := range b.u.Tables() {
		res, err := b.db.ExecContext(ctx, b.db.Rebind("DELETE FROM "+b.db.Quote(t.Name)+" WHERE expires < ? AND expires > ?"),
			sqlTime(now.Unix()), sqlTime(1))
		if err != nil {
			b.u.logf(core.LErr, "usrloc: %s: removing ended bindings of %s: %v", b.desc(), t.Name, err)
			continue
		}
		n, _ := res.RowsAffected()
		b.purged.Add(n)
	}
}

// sqlTime is a Unix time as Kamailio writes it: local time, seconds.
// Times past the year 9999 (DATETIME's end) are clamped.
func sqlTime(sec int64) string {
	return time.Unix(min(sec, 253402128000), 0).Local().Format("2006-01-02 15:04:05")
}

// unixOf reads a DATETIME/TIMESTAMP column as Kamailio means it: local
// wall-clock time.
func unixOf(t time.Time) int64 {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.Local).Unix()
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// where is the condition on an AoR and its arguments: username alone
// without use_domain, as Kamailio's usrloc.
func (b *sqlBackend) where(aor string) (string, []any) {
	user, domain := splitAoR(aor)
	if !b.u.UseDomain {
		return "username = ?", []any{aor}
	}
	return "username = ? AND domain = ?", []any{user, domain}
}

func (b *sqlBackend) write(items []item, names []string, full bool) error {
	if err := b.br.check(); err != nil {
		return err
	}
	return b.br.done(b.writeTx(items))
}

func (b *sqlBackend) writeTx(items []item) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*b.db.Timeout)
	defer cancel()
	b.stmts.Add(2) // BEGIN, COMMIT
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := b.writeItem(ctx, tx, it); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (b *sqlBackend) writeItem(ctx context.Context, tx *sql.Tx, it item) error {
	table := b.db.Quote(it.table)
	cond, args := b.where(it.aor)
	b.stmts.Add(1)
	rows, err := tx.QueryContext(ctx, b.db.Rebind("SELECT ruid, contact FROM "+table+" WHERE "+cond), args...)
	if err != nil {
		return err
	}
	have := map[string]string{} // contact -> ruid
	var extra []string          // ruids of duplicate rows
	for rows.Next() {
		var ruid, contact string
		if err := rows.Scan(&ruid, &contact); err != nil {
			rows.Close()
			return err
		}
		if _, dup := have[contact]; dup {
			extra = append(extra, ruid)
			continue
		}
		have[contact] = ruid
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	user, domain := splitAoR(it.aor)
	if !b.u.UseDomain {
		user, domain = it.aor, ""
	}
	for i := range it.contacts {
		c := &it.contacts[i]
		vals := []any{c.Received, c.Path, sqlTime(c.Expires), float64(c.Q) / 1000, c.CallID, int64(c.CSeq), sqlTime(c.Modified),
			int64(int32(uint32(c.Flags))), c.UserAgent, c.Socket, c.Instance, c.RegID}
		vals[0], vals[1], vals[9], vals[10] = nullStr(c.Received), nullStr(c.Path), nullStr(c.Socket), nullStr(c.Instance)
		if ruid, ok := have[c.URI]; ok {
			delete(have, c.URI)
			b.stmts.Add(1)
			_, err := tx.ExecContext(ctx, b.db.Rebind("UPDATE "+table+" SET received = ?, path = ?, expires = ?, q = ?, callid = ?, cseq = ?, last_modified = ?, cflags = ?, user_agent = ?, socket = ?, instance = ?, reg_id = ? WHERE ruid = ?"),
				append(vals, ruid)...)
			if err != nil {
				return err
			}
			continue
		}
		ruid := "kemi-" + b.node + "-" + strconv.FormatUint(b.seq.Add(1), 36) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
		b.stmts.Add(1)
		_, err := tx.ExecContext(ctx, b.db.Rebind("INSERT INTO "+table+" ("+b.cols()+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, NULL, ?, ?, 0, 0, 0, 0)"),
			ruid, user, nullStr(domain), c.URI, vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8], vals[9], vals[10], vals[11])
		if err != nil {
			return err
		}
	}
	if it.partial {
		// Only the bindings named gone are removed: the others stay,
		// whoever wrote them meanwhile.
		for _, uri := range it.removed {
			if ruid, ok := have[uri]; ok {
				extra = append(extra, ruid)
			}
		}
	} else {
		for _, ruid := range have {
			extra = append(extra, ruid)
		}
	}
	if len(extra) > 0 {
		q := "DELETE FROM " + table + " WHERE ruid IN (?" + strings.Repeat(", ?", len(extra)-1) + ")"
		args := make([]any, len(extra))
		for i, r := range extra {
			args[i] = r
		}
		b.stmts.Add(1)
		if _, err := tx.ExecContext(ctx, b.db.Rebind(q), args...); err != nil {
			return err
		}
	}
	return nil
}

const sqlReadCols = "username, domain, contact, received, path, expires, q, callid, cseq, last_modified, cflags, user_agent, socket, instance, reg_id"

// scanContact reads one row of sqlReadCols.
func scanContact(rows *sql.Rows, useDomain bool) (aor string, c Contact, err error) {
	var user, contact, callid, ua string
	var domain, received, path, socket, instance sql.NullString
	var expires, modified time.Time
	var q float64
	var cseq, cflags, regID int64
	if err = rows.Scan(&user, &domain, &contact, &received, &path, &expires, &q, &callid, &cseq, &modified, &cflags, &ua, &socket, &instance, &regID); err != nil {
		return
	}
	aor = user
	if useDomain && domain.String != "" {
		aor = user + "@" + domain.String
	}
	c = Contact{URI: contact, Q: int(math.Round(q * 1000)), Expires: unixOf(expires), CallID: callid, CSeq: uint32(cseq),
		Received: received.String, Path: path.String, UserAgent: ua, Instance: instance.String, RegID: int(regID),
		Flags: uint64(uint32(cflags)), Socket: socket.String, Modified: unixOf(modified)}
	return
}

func (b *sqlBackend) fetch(table, aor string, now int64) (*Record, error) {
	if err := b.br.check(); err != nil {
		return nil, err
	}
	r, err := b.fetchRows(table, aor, now)
	return r, b.br.done(err)
}

func (b *sqlBackend) fetchRows(table, aor string, now int64) (*Record, error) {
	ctx, cancel := b.db.Ctx()
	defer cancel()
	cond, args := b.where(aor)
	b.stmts.Add(1)
	rows, err := b.db.QueryContext(ctx, b.db.Rebind("SELECT "+sqlReadCols+" FROM "+b.db.Quote(table)+" WHERE "+cond+" AND expires > ?"),
		append(args, sqlTime(now))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	r := &Record{AoR: aor}
	for rows.Next() {
		_, c, err := scanContact(rows, b.u.UseDomain)
		if err != nil {
			return nil, err
		}
		r.Contacts = append(r.Contacts, c)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(r.Contacts) == 0 {
		return nil, nil
	}
	sortContacts(r.Contacts)
	return r, nil
}

// load reads the live rows of table "location" (the table registrar
// uses unless the script names another; those are read on first use in
// db_mode 3 only).
func (b *sqlBackend) load(now int64, fn func(table string, r *Record)) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const table = "location"
	rows, err := b.db.QueryContext(ctx, b.db.Rebind("SELECT "+sqlReadCols+" FROM "+b.db.Quote(table)+" WHERE expires > ?"), sqlTime(now))
	if err != nil {
		return fmt.Errorf("usrloc: loading bindings from %s: %w", b.desc(), err)
	}
	defer rows.Close()
	recs := map[string]*Record{}
	for rows.Next() {
		aor, c, err := scanContact(rows, b.u.UseDomain)
		if err != nil {
			return fmt.Errorf("usrloc: loading bindings from %s: %w", b.desc(), err)
		}
		r := recs[aor]
		if r == nil {
			r = &Record{AoR: aor}
			recs[aor] = r
		}
		r.Contacts = append(r.Contacts, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("usrloc: loading bindings from %s: %w", b.desc(), err)
	}
	for _, r := range recs {
		sortContacts(r.Contacts)
		fn(table, r)
	}
	return nil
}
