package acc

import (
	"fmt"
	"sync/atomic"
	"time"

	"kemi/core"
	"kemi/internal/sqldb"
)

// The database backend: Kamailio's acc, missed_calls and acc_cdrs
// tables in PostgreSQL or MySQL (db_url), one INSERT per record, made
// in the worker (or dialog's timer) that writes the record, under a
// 2 s timeout, as Kamailio's db_insert_mode 0 does. A record the
// database does not take is never dropped in silence: the error and the
// whole record (its ACC line) are logged at error level, DBErrors
// counts it, and acc_db_request/acc_request return -1.

// dbTimeout bounds one INSERT.
const dbTimeout = 2 * time.Second

type dbBackend struct {
	db                    *sqldb.DB
	flag, missedFlag      int
	tableAcc, tableMissed string
	tableCDRs             string
	cols                  [7]string // method, from_tag, to_tag, callid, sip_code, sip_reason, time
	extras                []extra
	errors                atomic.Uint64
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

func openDB(rt *core.Runtime, url string, cdrExtras []extra, cdrIDs [3]string) (*dbBackend, error) {
	b := &dbBackend{
		flag:        int(param(rt, "db_flag").I),
		missedFlag:  int(param(rt, "db_missed_flag").I),
		tableAcc:    param(rt, "db_table_acc").S,
		tableMissed: param(rt, "db_table_missed_calls").S,
		tableCDRs:   param(rt, "cdrs_table").S,
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"db_flag", b.flag}, {"db_missed_flag", b.missedFlag}} {
		if f.v < -1 || f.v > 63 {
			return nil, fmt.Errorf(`modparam("acc", %q, %d): expected a flag 0 to 63, or -1 for none`, f.name, f.v)
		}
	}
	for i, n := range []string{"acc_method_column", "acc_from_tag_column", "acc_to_tag_column", "acc_callid_column",
		"acc_sip_code_column", "acc_sip_reason_column", "acc_time_column"} {
		b.cols[i] = param(rt, n).S
		if !validIdent(b.cols[i]) {
			return nil, fmt.Errorf(`modparam("acc", %q, %s): expected a column name (letters, digits, _)`, n, core.LogQuote(b.cols[i]))
		}
	}
	for _, t := range []struct{ name, v string }{{"db_table_acc", b.tableAcc}, {"db_table_missed_calls", b.tableMissed}} {
		if !validIdent(t.v) {
			return nil, fmt.Errorf(`modparam("acc", %q, %s): expected a table name (letters, digits, _)`, t.name, core.LogQuote(t.v))
		}
	}
	if b.tableCDRs != "" && !validIdent(b.tableCDRs) {
		return nil, fmt.Errorf(`modparam("acc", "cdrs_table", %s): expected a table name (letters, digits, _)`, core.LogQuote(b.tableCDRs))
	}
	var err error
	if b.extras, err = ParseExtra("db_extra", param(rt, "db_extra").S); err != nil {
		return nil, err
	}
	for _, x := range b.extras {
		if !validIdent(x.name) {
			return nil, fmt.Errorf(`modparam("acc", "db_extra"): %s: the name is a column and must be letters, digits, _`, core.LogQuote(x.name))
		}
	}
	if b.tableCDRs != "" {
		for _, n := range cdrIDs {
			if !validIdent(n) {
				return nil, fmt.Errorf(`modparam("acc", "cdrs_table"): CDR attribute %s is a column and must be letters, digits, _`, core.LogQuote(n))
			}
		}
		for _, x := range cdrExtras {
			if !validIdent(x.name) {
				return nil, fmt.Errorf(`modparam("acc", "cdr_extra"): %s: with cdrs_table the name is a column and must be letters, digits, _`, core.LogQuote(x.name))
			}
		}
	}
	workers := 0
	if v, ok := rt.Globals["children"]; ok && v.Kind == core.KInt {
		workers = int(v.I)
	}
	if b.db, err = sqldb.Shared(url, sqldb.Options{Workers: workers, Timeout: dbTimeout}); err != nil {
		return nil, fmt.Errorf(`modparam("acc", "db_url"): %w`, err)
	}
	return b, nil
}

// insert writes one transaction record into table with the db_extra
// values in dbx.
func (b *dbBackend) insert(table string, r *Record, dbx [][2]string) error {
	if !validIdent(table) {
		return fmt.Errorf("table %s: expected a table name (letters, digits, _)", core.LogQuote(table))
	}
	cols := append(b.cols[:0:0], b.cols[:]...)
	args := []any{r.Method, r.FromTag, r.ToTag, r.CallID, r.Code, r.Reason, time.Unix(r.Time, 0)}
	for _, x := range dbx {
		cols = append(cols, x[0])
		args = append(args, x[1])
	}
	_, err := b.db.Exec(b.db.Insert(table, cols), args...)
	return err
}

// insertCDR writes a CDR into cdrs_table: the start and end as times,
// the duration in seconds, and the cdr_extra attributes as columns.
func (b *dbBackend) insertCDR(ids [3]string, start, end int64, extras [][2]string) error {
	cols := []string{ids[0], ids[1], ids[2]}
	args := []any{time.Unix(start, 0), time.Unix(end, 0), float64(max(end-start, 0))}
	for _, x := range extras {
		cols = append(cols, x[0])
		args = append(args, x[1])
	}
	_, err := b.db.Exec(b.db.Insert(b.tableCDRs, cols), args...)
	return err
}

// dbFail reports a record the database did not take: the error and the
// record itself go to the log, so the record is not lost.
func (m *Module) dbFail(table string, r *Record, err error) {
	m.db.errors.Add(1)
	if m.rt.Log != nil {
		m.rt.Log.Log(core.LErr, nil, "acc: db_url: table "+table+": "+err.Error()+"; the record: "+LogLine(r))
	}
}

// DBErrors is the number of records the database did not take.
func (m *Module) DBErrors() uint64 {
	if m.db == nil {
		return 0
	}
	return m.db.errors.Load()
}

// writeDB writes a transaction record to table, reporting a failure.
func (m *Module) writeDB(ctx *core.Ctx, table string, r *Record) error {
	dbx := evalExtras(ctx, m.db.extras, nil)
	if err := m.db.insert(table, r, dbx); err != nil {
		full := *r
		full.Extra = append(append([][2]string(nil), r.Extra...), dbx...)
		m.dbFail(table, &full, err)
		return err
	}
	return nil
}

// DBRequest is acc_db_request(comment, table): a record of the current
// request into a database table now.
func DBRequest(ctx *core.Ctx, comment, table string) int {
	m := Of(ctx.RT)
	if m == nil || ctx.Msg == nil {
		return -1
	}
	if m.db == nil {
		ctx.Log(core.LErr, "acc.acc_db_request: no db_url: the record goes nowhere\n")
		return -1
	}
	r := m.base(ctx, TextRequest)
	r.Code, r.Reason = splitComment(comment)
	if r.Code == "" {
		r.Code = "0"
	}
	r.Table = table
	if m.writeDB(ctx, table, &r) != nil {
		return -1
	}
	return 1
}
