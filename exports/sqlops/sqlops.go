// Package sqlops implements module sqlops: raw SQL from the script over
// the connections sqlcon names (internal/sqldb pools), with results kept
// per worker as Kamailio keeps them per process.
//
// A result is read whole into memory when the query runs, under two
// limits (results_max_rows, results_max_bytes) checked while the rows
// arrive, so a query that returns a huge table fails early instead of
// growing the worker's memory; the statement is cancelled then. The
// number of result names a worker holds is bounded by results_maxsize.
package sqlops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"kemi/core"
	"kemi/exports/pv"
	"kemi/internal/sqldb"
)

// con is one sqlcon connection.
type con struct {
	name  string
	url   string
	db    *sqldb.DB
	async chan string
	done  chan struct{}
}

// module is the per-runtime state: the connections and the limits.
type module struct {
	cons       map[string]*con
	maxResults int
	maxRows    int
	maxBytes   int
	timeout    time.Duration
	log        *core.Logger
	wg         sync.WaitGroup
}

var mods = core.NewRuntimeState(func(rt *core.Runtime) *module {
	return &module{cons: map[string]*con{}}
})

// result is one query's rows.
type result struct {
	cols []string
	rows [][]core.Value // a NULL is core.Null()
}

// worker is a worker's results and affected-row counts; carried from
// message to message, as Kamailio keeps them in the process.
type worker struct {
	results  map[string]*result
	affected map[string]int64
	buf      []byte
}

var workers = core.NewMsgState(func(old *worker) worker { return *old })

func wk(ctx *core.Ctx) *worker {
	w := workers.Get(ctx)
	if w.results == nil {
		w.results = map[string]*result{}
		w.affected = map[string]int64{}
	}
	return w
}

func start(rt *core.Runtime) error {
	m := mods.Get(rt)
	m.log = rt.Log
	m.maxResults = int(rt.Param("sqlops", "results_maxsize").I)
	m.maxRows = int(rt.Param("sqlops", "results_max_rows").I)
	m.maxBytes = int(rt.Param("sqlops", "results_max_bytes").I)
	m.timeout = time.Duration(rt.Param("sqlops", "query_timeout").I) * time.Millisecond
	if m.maxResults <= 0 || m.maxRows <= 0 || m.maxBytes <= 0 || m.timeout <= 0 {
		return fmt.Errorf(`sqlops: results_maxsize, results_max_rows, results_max_bytes and query_timeout must be above 0, got %d, %d, %d, %v`,
			m.maxResults, m.maxRows, m.maxBytes, m.timeout)
	}
	workers := 0
	if v, ok := rt.Globals["children"]; ok && v.Kind == core.KInt {
		workers = int(v.I)
	}
	connectMode := rt.Param("sqlops", "connect_mode").I
	for _, v := range rt.ParamValues("sqlops", "sqlcon") {
		if v.S == "" {
			continue
		}
		name, url, ok := strings.Cut(v.S, "=>")
		name, url = strings.TrimSpace(name), strings.TrimSpace(url)
		if !ok || name == "" || url == "" {
			return fmt.Errorf(`modparam("sqlops", "sqlcon", %q): want name=>db_url`, redactCon(v.S))
		}
		if _, dup := m.cons[name]; dup {
			return fmt.Errorf(`modparam("sqlops", "sqlcon"): connection %q given twice`, name)
		}
		db, err := sqldb.Shared(url, sqldb.Options{Workers: workers, Timeout: m.timeout})
		if err != nil {
			return fmt.Errorf(`modparam("sqlops", "sqlcon", %q): %w`, name, err)
		}
		if err := db.Ping(); err != nil {
			if connectMode == 0 {
				db.Close()
				return fmt.Errorf(`modparam("sqlops", "sqlcon", %q): %w (connect_mode 1 starts anyway)`, name, err)
			}
			m.logf(core.LErr, fmt.Sprintf("sqlops: connection %q: %v; its queries fail until the database answers", name, err))
		}
		c := &con{name: name, url: url, db: db, async: make(chan string, 1024), done: make(chan struct{})}
		m.cons[name] = c
		m.wg.Add(1)
		go m.runAsync(c)
	}
	return nil
}

func stop(rt *core.Runtime) {
	m := mods.Peek(rt)
	if m == nil {
		return
	}
	for _, c := range m.cons {
		close(c.done)
	}
	m.wg.Wait()
	for _, c := range m.cons {
		c.db.Close()
	}
	m.cons = map[string]*con{}
}

// redactCon masks the password in a sqlcon value for an error.
func redactCon(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			cred := s[j+3 : i]
			if c := strings.IndexByte(cred, ':'); c >= 0 {
				return s[:j+3] + cred[:c] + ":***" + s[i:]
			}
		}
	}
	return s
}

func (m *module) logf(level int, msg string) {
	if m.log != nil {
		m.log.Log(level, nil, msg+"\n")
	}
}

// runAsync runs the statements sql_query_async queued on c, one at a
// time, until stop; what is still queued at stop runs first (within a
// query_timeout; the rest is logged as not run).
func (m *module) runAsync(c *con) {
	defer m.wg.Done()
	for {
		select {
		case q := <-c.async:
			m.execAsync(c, q)
		case <-c.done:
			// Drain what is queued, for at most one query_timeout; what
			// is left then is logged, statement by statement.
			deadline := time.Now().Add(m.timeout)
			for {
				select {
				case q := <-c.async:
					if time.Now().Before(deadline) {
						m.execAsync(c, q)
					} else {
						m.logf(core.LErr, fmt.Sprintf("sqlops: sql_query_async on %q: not run, stopping: %s", c.name, clip(q)))
					}
				default:
					return
				}
			}
		}
	}
}

func (m *module) execAsync(c *con, q string) {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	if _, err := c.db.ExecContext(ctx, q); err != nil {
		m.logf(core.LErr, fmt.Sprintf("sqlops: sql_query_async on %q: %s: %v", c.name, clip(q), err))
	}
}

func clip(q string) string {
	if len(q) > 120 {
		q = q[:120] + "..."
	}
	return strconv.Quote(q)
}

func (m *module) con(ctx *core.Ctx, fn, name string) *con {
	c := m.cons[name]
	if c == nil {
		ctx.Log(core.LErr, "sqlops."+fn+": no connection "+strconv.Quote(name)+" (sqlcon)\n")
	}
	return c
}

// errTooBig is a result past a limit.
type errTooBig struct{ what string }

func (e errTooBig) Error() string { return e.what }

// run executes q on c and reads its rows within the limits. keep
// false reads no rows (sql_query with res ""): only whether there were
// any. A statement that returns no rows (see returnsRows) runs through
// Exec, which gives the rows it changed.
func (m *module) run(c *con, q string, keep bool) (res *result, n int64, got bool, err error) {
	qctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	if !returnsRows(q) {
		r, err := c.db.ExecContext(qctx, q)
		if err != nil {
			return nil, 0, false, err
		}
		n, _ := r.RowsAffected()
		return nil, n, false, nil
	}
	rows, err := c.db.QueryContext(qctx, q)
	if err != nil {
		return nil, 0, false, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, 0, false, err
	}
	types, _ := rows.ColumnTypes()
	isInt := make([]bool, len(cols))
	for i, t := range types {
		isInt[i] = intType(t.DatabaseTypeName())
	}
	res = &result{cols: cols}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	size := 0
	for rows.Next() {
		got = true
		if !keep {
			break
		}
		if len(res.rows) >= m.maxRows {
			return nil, 0, true, errTooBig{fmt.Sprintf("more than results_max_rows (%d) rows", m.maxRows)}
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, true, err
		}
		row := make([]core.Value, len(cols))
		for i, v := range vals {
			s, null := sqldb.String(v)
			size += len(s)
			switch {
			case null:
				row[i] = core.Null()
			case isInt[i]:
				if n, err := strconv.ParseInt(s, 10, 64); err == nil {
					row[i] = core.Int(n)
					continue
				}
				row[i] = core.Str(s)
			default:
				row[i] = core.Str(s)
			}
		}
		if size > m.maxBytes {
			return nil, 0, true, errTooBig{fmt.Sprintf("more than results_max_bytes (%d) bytes of values", m.maxBytes)}
		}
		res.rows = append(res.rows, row)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, got, err
	}
	return res, int64(len(res.rows)), got, nil
}

// intType says whether a column type name is an integer type.
func intType(t string) bool {
	switch strings.ToUpper(t) {
	case "INT", "INT2", "INT4", "INT8", "INTEGER", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT",
		"UNSIGNED INT", "UNSIGNED BIGINT", "UNSIGNED SMALLINT", "UNSIGNED TINYINT", "UNSIGNED MEDIUMINT", "SERIAL", "BIGSERIAL", "YEAR":
		return true
	}
	return false
}

// exec runs a statement; it returns sql_query's code.
func (m *module) exec(ctx *core.Ctx, fn, conName, q, res string) (int, *result) {
	c := m.con(ctx, fn, conName)
	if c == nil {
		return -1, nil
	}
	w := wk(ctx)
	if res != "" {
		if _, have := w.results[res]; !have && len(w.results) >= m.maxResults {
			ctx.Log(core.LErr, "sqlops."+fn+": result "+strconv.Quote(res)+": this worker holds results_maxsize ("+
				strconv.Itoa(m.maxResults)+") results; free one with sql_result_free\n")
			return -1, nil
		}
		delete(w.results, res)
	}
	r, n, got, err := m.run(c, q, res != "" || fn != "sql_query")
	if err != nil {
		var big errTooBig
		if errors.As(err, &big) {
			ctx.Log(core.LErr, "sqlops."+fn+": "+c.name+": "+clip(q)+": result dropped: "+big.what+"\n")
		} else {
			ctx.Log(core.LErr, "sqlops."+fn+": "+c.name+": "+clip(q)+": "+err.Error()+"\n")
		}
		return -1, nil
	}
	w.affected[c.name] = n
	if r == nil || !got {
		return 2, r
	}
	if res == "" && fn == "sql_query" {
		return 3, nil
	}
	return 1, r
}

// returnsRows guesses whether a statement has a result set by its
// first word (SELECT, WITH, SHOW, VALUES, TABLE, EXPLAIN, DESCRIBE,
// CALL) or a RETURNING clause; anything else runs through Exec.
func returnsRows(q string) bool {
	f := strings.Fields(q)
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(strings.TrimLeft(f[0], "(")) {
	case "SELECT", "WITH", "SHOW", "VALUES", "TABLE", "EXPLAIN", "DESCRIBE", "DESC", "CALL":
		return true
	}
	return strings.Contains(strings.ToUpper(q), "RETURNING")
}

// Query is sql_query(con, query, res).
func Query(ctx *core.Ctx, con, query, res string) int {
	m := mods.Get(ctx.RT)
	rc, r := m.exec(ctx, "sql_query", con, query, res)
	if rc == 1 || rc == 2 && res != "" && r != nil {
		wk(ctx).results[res] = r
	}
	return rc
}

// XQuery is sql_xquery(con, query, res).
func XQuery(ctx *core.Ctx, con, query, res string) int {
	if res == "" {
		ctx.Log(core.LErr, "sqlops.sql_xquery: no xavp name\n")
		return -1
	}
	m := mods.Get(ctx.RT)
	rc, r := m.exec(ctx, "sql_xquery", con, query, "")
	if rc != 1 || r == nil {
		return rc
	}
	// The first row ends up as $xavp(res[0]): add from the last.
	for i := len(r.rows) - 1; i >= 0; i-- {
		pv.XavpAddList(ctx, res, r.cols, r.rows[i])
	}
	return 1
}

// PVQuery is sql_pvquery(con, query, res).
func PVQuery(ctx *core.Ctx, con, query, res string) int {
	names := strings.FieldsFunc(res, func(r rune) bool { return r == ';' || r == ',' })
	type target struct {
		set core.PVSetter
		arg string
		avp bool
	}
	var ts []target
	for _, n := range names {
		n = strings.TrimSpace(n)
		name, arg, ok := core.SplitPV(n)
		set := core.LookupPVSetter(name)
		if !ok || set == nil {
			ctx.Log(core.LErr, "sqlops.sql_pvquery: "+strconv.Quote(n)+" is not a writable pseudo-variable\n")
			return -1
		}
		ts = append(ts, target{set, arg, name == "avp" || name == "xavp"})
	}
	if len(ts) == 0 {
		ctx.Log(core.LErr, "sqlops.sql_pvquery: no pseudo-variables in "+strconv.Quote(res)+"\n")
		return -1
	}
	m := mods.Get(ctx.RT)
	rc, r := m.exec(ctx, "sql_pvquery", con, query, "")
	if rc != 1 || r == nil {
		return rc
	}
	if len(r.cols) != len(ts) {
		ctx.Log(core.LErr, fmt.Sprintf("sqlops.sql_pvquery: %d columns for %d pseudo-variables\n", len(r.cols), len(ts)))
		return -1
	}
	for i := len(r.rows) - 1; i >= 0; i-- {
		for j, v := range r.rows[i] {
			if v.IsNull() && ts[j].avp {
				continue
			}
			if err := ts[j].set(ctx, ts[j].arg, v); err != nil {
				ctx.Log(core.LErr, "sqlops.sql_pvquery: "+names[j]+": "+err.Error()+"\n")
				return -1
			}
		}
	}
	return 1
}

// ResultFree is sql_result_free(res).
func ResultFree(ctx *core.Ctx, res string) int {
	delete(wk(ctx).results, res)
	return 1
}

func get(ctx *core.Ctx, res string) *result { return wk(ctx).results[res] }

// NumRows is sql_num_rows(res).
func NumRows(ctx *core.Ctx, res string) int {
	if r := get(ctx, res); r != nil {
		return len(r.rows)
	}
	return 0
}

// NumColumns is sql_num_columns(res).
func NumColumns(ctx *core.Ctx, res string) int {
	if r := get(ctx, res); r != nil {
		return len(r.cols)
	}
	return 0
}

func (r *result) at(row, col int) (core.Value, bool) {
	if r == nil || row < 0 || row >= len(r.rows) || col < 0 || col >= len(r.cols) {
		return core.Null(), false
	}
	return r.rows[row][col], true
}

// IsNull is sql_is_null(res, row, col).
func IsNull(ctx *core.Ctx, res string, row, col int) int {
	v, ok := get(ctx, res).at(row, col)
	switch {
	case !ok:
		return -1
	case v.IsNull():
		return 1
	}
	return 2
}

// ResultGet is sql_result_get(res, row, col).
func ResultGet(ctx *core.Ctx, res string, row, col int) core.Value {
	v, _ := get(ctx, res).at(row, col)
	return v
}

// ResultGete is sql_result_gete(res, row, col).
func ResultGete(ctx *core.Ctx, res string, row, col int) core.Value {
	if v, _ := get(ctx, res).at(row, col); !v.IsNull() {
		return v
	}
	return core.Str("")
}

// ResultGetz is sql_result_getz(res, row, col).
func ResultGetz(ctx *core.Ctx, res string, row, col int) core.Value {
	if v, _ := get(ctx, res).at(row, col); !v.IsNull() {
		return v
	}
	return core.Int(0)
}

// QueryAsync is sql_query_async(con, query).
func QueryAsync(ctx *core.Ctx, con, query string) int {
	m := mods.Get(ctx.RT)
	c := m.con(ctx, "sql_query_async", con)
	if c == nil {
		return -1
	}
	select {
	case c.async <- query:
		return 1
	default:
		ctx.Log(core.LErr, "sqlops.sql_query_async: the queue of "+strconv.Quote(con)+" is full (1024 statements); "+clip(query)+" dropped\n")
		return -1
	}
}

// getDbr is $dbr(res=>key).
func getDbr(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	res, key, ok := strings.Cut(arg, "=>")
	if !ok {
		return dst, false
	}
	r := get(ctx, strings.TrimSpace(res))
	if r == nil {
		return dst, false
	}
	key = strings.TrimSpace(key)
	switch {
	case key == "rows":
		return strconv.AppendInt(dst, int64(len(r.rows)), 10), true
	case key == "cols":
		return strconv.AppendInt(dst, int64(len(r.cols)), 10), true
	case strings.HasPrefix(key, "colname[") && strings.HasSuffix(key, "]"):
		c, ok := index(ctx, key[len("colname["):len(key)-1])
		if !ok || c < 0 || c >= len(r.cols) {
			return dst, false
		}
		return append(dst, r.cols[c]...), true
	case strings.HasPrefix(key, "[") && strings.HasSuffix(key, "]"):
		rs, cs, ok := strings.Cut(key[1:len(key)-1], ",")
		if !ok {
			return dst, false
		}
		row, ok1 := index(ctx, rs)
		col, ok2 := index(ctx, cs)
		if !ok1 || !ok2 {
			return dst, false
		}
		v, ok := r.at(row, col)
		if !ok || v.IsNull() {
			return dst, false
		}
		if v.Kind == core.KInt {
			return strconv.AppendInt(dst, v.I, 10), true
		}
		return append(dst, v.S...), true
	}
	return dst, false
}

// index reads a [row,col] index: a number or one pseudo-variable.
func index(ctx *core.Ctx, s string) (int, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 1 && s[0] == '$' {
		name, arg, ok := core.SplitPV(s)
		g := core.LookupPV(name)
		if !ok || g == nil {
			return 0, false
		}
		w := wk(ctx)
		b, ok := g(ctx, arg, w.buf[:0])
		w.buf = b[:0]
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(string(b))
		return n, err == nil
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// getSQLRows is $sqlrows(con).
func getSQLRows(ctx *core.Ctx, arg string, dst []byte) ([]byte, bool) {
	return strconv.AppendInt(dst, wk(ctx).affected[strings.TrimSpace(arg)], 10), true
}
