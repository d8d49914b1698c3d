package sqldb_test

import (
	"strings"
	"testing"

	"kemi/internal/sqldb"
	"kemi/internal/testsvc"
)

// snapshot describes every table of the database "kamailio": columns
// (position, name, type, length, nullability, default), indexes and the
// version rows, as text that two databases can be compared by.
func snapshot(t *testing.T, s *testsvc.SQL) map[string]string {
	t.Helper()
	qs := map[string]string{}
	if s.Engine == "postgres" {
		qs["columns"] = `SELECT table_name, ordinal_position, column_name, data_type, coalesce(character_maximum_length, 0),
			is_nullable, coalesce(regexp_replace(column_default, 'nextval\(.*', 'nextval'), '-')
			FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`
		qs["indexes"] = `SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY tablename, indexname`
	} else {
		qs["columns"] = `SELECT table_name, ordinal_position, column_name, column_type, coalesce(character_maximum_length, 0),
			is_nullable, coalesce(column_default, '-'), extra, column_key
			FROM information_schema.columns WHERE table_schema = 'kamailio' ORDER BY table_name, ordinal_position`
		qs["indexes"] = `SELECT table_name, index_name, non_unique, seq_in_index, column_name FROM information_schema.statistics
			WHERE table_schema = 'kamailio' ORDER BY table_name, index_name, seq_in_index`
	}
	qs["version"] = `SELECT table_name, table_version FROM version ORDER BY table_name`
	out := map[string]string{}
	for k, q := range qs {
		r, err := s.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		out[k] = r
	}
	return out
}

func TestSchema_MatchesKamailio(t *testing.T) {
	testsvc.AllSQLEngines(t, func(t *testing.T, s *testsvc.SQL) {
		mods := map[string]bool{}
		for _, tb := range sqldb.Tables {
			if tb.Module != "standard" {
				mods[tb.Module] = true
			}
		}
		var list []string
		for m := range mods {
			list = append(list, m)
		}
		s.LoadKamailioSchema(list...)
		kam := snapshot(t, s)
		// Every table Kamailio's files made must be one kemi creates.
		var names []string
		for _, tb := range sqldb.Tables {
			names = append(names, tb.Name)
		}
		s.Exec("DROP TABLE " + strings.Join(names, ", "))
		if r, _ := s.Query("SELECT count(*) FROM information_schema.tables WHERE table_schema IN ('public', 'kamailio')"); strings.TrimSpace(r) != "0" {
			t.Fatalf("Kamailio's files made tables kemi does not create (%s left)", r)
		}
		db, err := sqldb.Open(s.URL(), sqldb.Options{Workers: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		created, existing, err := db.Init(sqldb.Tables)
		if err != nil {
			t.Fatal(err)
		}
		if len(created) != len(sqldb.Tables) || len(existing) != 0 {
			t.Fatalf("created %v, existing %v", created, existing)
		}
		got := snapshot(t, s)
		for k := range kam {
			if kam[k] != got[k] {
				kl, gl := strings.Split(kam[k], "\n"), strings.Split(got[k], "\n")
				for i := 0; i < len(kl) || i < len(gl); i++ {
					var a, b string
					if i < len(kl) {
						a = kl[i]
					}
					if i < len(gl) {
						b = gl[i]
					}
					if a != b {
						t.Errorf("%s: Kamailio's %q, kemi's %q", k, a, b)
					}
				}
			}
		}
		if w := db.CheckVersion("subscriber", "subscriber"); w != "" {
			t.Errorf("CheckVersion after init: %s", w)
		}
		s.Exec("UPDATE version SET table_version = 6 WHERE table_name = 'subscriber'")
		if w := db.CheckVersion("subscriber", "subscriber"); !strings.Contains(w, "table subscriber is version 6; kemi reads Kamailio's version 7 layout") {
			t.Errorf("CheckVersion of an older table: %q", w)
		}
		s.Exec("DELETE FROM version WHERE table_name = 'acc'")
		if w := db.CheckVersion("acc", "acc"); !strings.Contains(w, "no row in the version table") {
			t.Errorf("CheckVersion without a row: %q", w)
		}
		s.Exec("UPDATE version SET table_version = 7 WHERE table_name = 'subscriber'")
		s.Exec("INSERT INTO version (table_name, table_version) VALUES ('acc', 5)")
		// A second init finds every table and changes nothing.
		created, existing, err = db.Init(sqldb.Tables)
		if err != nil || len(created) != 0 || len(existing) != len(sqldb.Tables) {
			t.Fatalf("second init: created %v, existing %v, %v", created, existing, err)
		}
	})
}
