package acc

import (
	"strings"
	"testing"
	"time"

	"kemi/core"
	"kemi/internal/testsvc"
)

// TestSQL_AccRowsFieldByField covers issue 18 item 4 and the acc part
// of item 5, in PostgreSQL and MariaDB with Kamailio's acc schema (and
// the extra columns Kamailio's default config adds): an answered
// transaction (db_flag), a missed call (db_missed_flag) and
// acc_db_request each write one row, checked field by field; with the
// database stopped the record is reported (log line with the record,
// DBErrors, -1), never lost in silence.
func TestSQL_AccRowsFieldByField(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		s.LoadKamailioSchema("acc")
		for _, tb := range []string{"acc", "missed_calls"} {
			for _, c := range []string{"src_user", "src_domain", "src_ip", "dst_ouser", "dst_user", "dst_domain"} {
				s.Exec("ALTER TABLE " + tb + " ADD COLUMN " + c + " VARCHAR(64) NOT NULL DEFAULT ''")
			}
		}
		ctx, log, _ := setup(t, map[string]core.Value{
			"db_url": core.Str(s.URL()), "db_flag": core.Int(1), "db_missed_flag": core.Int(2),
			"failed_transaction_flag": core.Int(3), "db_extra": core.Str(kamExtra)})
		before := time.Now().Add(-2 * time.Second)
		complete(ctx, 200, "OK", 1<<1)
		complete(ctx, 486, "Busy Here", 1<<2)
		complete(ctx, 404, "Not Found", 1<<1) // no failed_transaction_flag: not accounted
		if rc := DBRequest(ctx, "100 Received", "acc"); rc != 1 {
			t.Fatalf("acc_db_request: %d\n%s", rc, log)
		}
		cols := "method, from_tag, to_tag, callid, sip_code, sip_reason, src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain"
		got, err := s.Query("SELECT " + cols + " FROM acc ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		fixed := "alice\texample.org\t192.0.2.10\tbob\tbob\texample.com"
		want := "INVITE\t1928301774\tb0b\ta84b4c76e66710@pc33.example.org\t200\tOK\t" + fixed + "\n" +
			"INVITE\t1928301774\t\ta84b4c76e66710@pc33.example.org\t100\tReceived\t" + fixed + "\n"
		if got != want {
			t.Errorf("acc rows:\n%s\nwant\n%s\nlog:\n%s", got, want, log)
		}
		got, _ = s.Query("SELECT " + cols + " FROM missed_calls ORDER BY id")
		if want := "INVITE\t1928301774\tb0b\ta84b4c76e66710@pc33.example.org\t486\tBusy Here\t" + fixed + "\n"; got != want {
			t.Errorf("missed_calls rows:\n%s\nwant\n%s", got, want)
		}
		// The time column holds the record's time, local wall clock.
		r, _ := s.Query("SELECT time FROM acc ORDER BY id LIMIT 1")
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", strings.TrimSpace(r), time.Local)
		if err != nil || tm.Before(before) || tm.After(time.Now().Add(2*time.Second)) {
			t.Errorf("time column %q (%v), want about now", r, err)
		}
		// A CDR row in acc_cdrs (cdrs_table): start and end as times, the
		// duration in seconds, cdr_extra columns.
		s.Exec("ALTER TABLE acc_cdrs ADD COLUMN caller VARCHAR(64) NOT NULL DEFAULT ''")
		m := Of(ctx.RT)
		m.db.tableCDRs = "acc_cdrs"
		start := time.Date(2026, 12, 4, 10, 0, 0, 0, time.Local).Unix()
		if err := m.db.insertCDR([3]string{"start_time", "end_time", "duration"}, start, start+42, [][2]string{{"caller", "alice"}}); err != nil {
			t.Fatal(err)
		}
		if r, _ := s.Query("SELECT start_time, end_time, duration, caller FROM acc_cdrs"); strings.Replace(r, "\t42.000\t", "\t42\t", 1) !=
			"2026-12-04 10:00:00\t2026-12-04 10:00:42\t42\talice\n" {
			t.Errorf("acc_cdrs row: %q", r)
		}
		if rc := DBRequest(ctx, "200 OK", "acc; DROP TABLE acc"); rc != -1 {
			t.Errorf("acc_db_request with a bad table name: %d", rc)
		}
		// The database stops: records are reported with their content.
		s.Stop()
		defer s.Start()
		log.Reset()
		complete(ctx, 200, "OK", 1<<1)
		if n := Of(ctx.RT).DBErrors(); n < 1 {
			t.Errorf("DBErrors = %d after a failed insert", n)
		}
		if l := log.String(); !strings.Contains(l, "acc: db_url: table acc:") ||
			!strings.Contains(l, "the record: ACC: transaction answered:") || !strings.Contains(l, "call_id=a84b4c76e66710@pc33.example.org") ||
			!strings.Contains(l, "src_user=alice") {
			t.Errorf("a failed insert was not reported with its record:\n%s", l)
		}
		if rc := DBRequest(ctx, "200 OK", "acc"); rc != -1 {
			t.Errorf("acc_db_request with the database stopped: %d", rc)
		}
		if rc := Request(ctx, "200 OK", "acc"); rc != -1 {
			t.Errorf("acc_request with the database stopped: %d", rc)
		}
	})
}
