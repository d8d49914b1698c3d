package sqldb

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Kamailio's tables as kamdbctl creates them (Kamailio 5.6's schema,
// the files Debian ships in /usr/share/kamailio/{postgres,mysql}/), in
// kemi's own model: the same table and column names, types, defaults,
// nullability, unique keys and indexes, and the same rows in `version`,
// so Kamailio and kemi can share one database during a migration.
// TestSchema_MatchesKamailio compares the result, column by column,
// with a database made from Kamailio's files.

// colKind is a column type that the two dialects spell differently.
type colKind int

const (
	kSerial   colKind = iota // the id primary key
	kVarchar                 // VARCHAR(Size)
	kInt                     // INTEGER / INT(11)
	kUint                    // INTEGER / INT(10) UNSIGNED (My overrides)
	kSmallint                // SMALLINT / SMALLINT(5) UNSIGNED
	kReal                    // REAL / FLOAT(10,2) (My overrides)
	kTime                    // TIMESTAMP WITHOUT TIME ZONE / DATETIME
	kText                    // TEXT
)

// Column is one column of a Kamailio table.
type Column struct {
	Name    string
	kind    colKind
	size    int
	my      string // the MySQL type, when it is not the kind's
	Default string // SQL literal; "" for none
	Null    bool   // NULL allowed
}

// Table is one Kamailio table.
type Table struct {
	Name    string
	Version int
	Columns []Column
	// Unique is a unique key: its name (without PostgreSQL's table
	// prefix) and its columns.
	Unique  []Index
	Indexes []Index
	// Module is the Kamailio module whose schema file has the table.
	Module string
}

// Index is a named index over columns.
type Index struct {
	Name    string
	Columns []string
}

func id() Column { return Column{Name: "id", kind: kSerial} }
func vc(name string, n int, def string) Column {
	return Column{Name: name, kind: kVarchar, size: n, Default: def}
}
func vcNull(name string, n int) Column {
	return Column{Name: name, kind: kVarchar, size: n, Default: "NULL", Null: true}
}
func in(name, def string) Column { return Column{Name: name, kind: kInt, Default: def} }
func tm(name, def string) Column { return Column{Name: name, kind: kTime, Default: def} }

// ucontact is the column set location and aliases share.
func ucontact(contactLen, receivedLen int) []Column {
	return []Column{id(), vc("ruid", 64, "''"), vc("username", 64, "''"), vcNull("domain", 64),
		vc("contact", contactLen, "''"), vcNull("received", receivedLen), vcNull("path", 512),
		tm("expires", "'2030-05-28 21:32:15'"),
		{Name: "q", kind: kReal, my: "FLOAT(10,2)", Default: "1.0"},
		vc("callid", 255, "'Default-Call-ID'"), in("cseq", "1"),
		tm("last_modified", "'2000-01-01 00:00:01'"),
		in("flags", "0"), in("cflags", "0"), vc("user_agent", 255, "''"), vcNull("socket", 64),
		{Name: "methods", kind: kInt, Default: "NULL", Null: true}, vcNull("instance", 255),
		in("reg_id", "0"), in("server_id", "0"), in("connection_id", "0"), in("keepalive", "0"),
		in("partition", "0")}
}

func accCols() []Column {
	return []Column{id(), vc("method", 16, "''"), vc("from_tag", 128, "''"), vc("to_tag", 128, "''"),
		vc("callid", 255, "''"), vc("sip_code", 3, "''"), vc("sip_reason", 128, "''"),
		{Name: "time", kind: kTime}}
}

// Tables are the tables `kemi db init` creates, in order.
var Tables = []Table{
	{Name: "version", Version: 1, Module: "standard", Columns: []Column{id(),
		{Name: "table_name", kind: kVarchar, size: 32},
		{Name: "table_version", kind: kUint, my: "INT UNSIGNED", Default: "0"}},
		Unique: []Index{{"table_name_idx", []string{"table_name"}}}},
	{Name: "subscriber", Version: 7, Module: "auth_db", Columns: []Column{id(),
		vc("username", 64, "''"), vc("domain", 64, "''"), vc("password", 64, "''"),
		vc("ha1", 128, "''"), vc("ha1b", 128, "''")},
		Unique:  []Index{{"account_idx", []string{"username", "domain"}}},
		Indexes: []Index{{"username_idx", []string{"username"}}}},
	{Name: "location", Version: 9, Module: "usrloc", Columns: ucontact(512, 128),
		Unique: []Index{{"ruid_idx", []string{"ruid"}}},
		Indexes: []Index{{"account_contact_idx", []string{"username", "domain", "contact"}},
			{"expires_idx", []string{"expires"}}, {"tcpcon_idx", []string{"connection_id"}},
			{"connection_idx", []string{"server_id", "connection_id"}}}},
	{Name: "location_attrs", Version: 1, Module: "usrloc", Columns: []Column{id(),
		vc("ruid", 64, "''"), vc("username", 64, "''"), vcNull("domain", 64), vc("aname", 64, "''"),
		in("atype", "0"), vc("avalue", 512, "''"), tm("last_modified", "'2000-01-01 00:00:01'")},
		Indexes: []Index{{"account_record_idx", []string{"username", "domain", "ruid"}},
			{"last_modified_idx", []string{"last_modified"}}}},
	{Name: "aliases", Version: 8, Module: "registrar", Columns: ucontact(255, 255),
		Unique: []Index{{"ruid_idx", []string{"ruid"}}},
		Indexes: []Index{{"account_contact_idx", []string{"username", "domain", "contact"}},
			{"expires_idx", []string{"expires"}}}},
	{Name: "trusted", Version: 6, Module: "permissions", Columns: []Column{id(),
		{Name: "src_ip", kind: kVarchar, size: 50}, {Name: "proto", kind: kVarchar, size: 4},
		vcNull("from_pattern", 64), vcNull("ruri_pattern", 64),
		{Name: "tag", kind: kVarchar, size: 64, Null: true},
		{Name: "priority", kind: kInt, my: "INT", Default: "0"}},
		Indexes: []Index{{"peer_idx", []string{"src_ip"}}}},
	{Name: "address", Version: 6, Module: "permissions", Columns: []Column{id(),
		{Name: "grp", kind: kUint, my: "INT(11) UNSIGNED", Default: "1"},
		{Name: "ip_addr", kind: kVarchar, size: 50},
		{Name: "mask", kind: kInt, my: "INT", Default: "32"},
		{Name: "port", kind: kSmallint, Default: "0"},
		{Name: "tag", kind: kVarchar, size: 64, Null: true}}},
	{Name: "dispatcher", Version: 4, Module: "dispatcher", Columns: []Column{id(),
		in("setid", "0"), vc("destination", 192, "''"), in("flags", "0"), in("priority", "0"),
		vc("attrs", 128, "''"), vc("description", 64, "''")}},
	{Name: "acc", Version: 5, Module: "acc", Columns: accCols(),
		Indexes: []Index{{"callid_idx", []string{"callid"}}}},
	{Name: "acc_cdrs", Version: 2, Module: "acc", Columns: []Column{id(),
		tm("start_time", "'2000-01-01 00:00:00'"), tm("end_time", "'2000-01-01 00:00:00'"),
		{Name: "duration", kind: kReal, my: "FLOAT(10,3)", Default: "0"}},
		Indexes: []Index{{"start_time_idx", []string{"start_time"}}}},
	{Name: "missed_calls", Version: 4, Module: "acc", Columns: accCols(),
		Indexes: []Index{{"callid_idx", []string{"callid"}}}},
	{Name: "htable", Version: 2, Module: "htable", Columns: []Column{id(),
		vc("key_name", 64, "''"), in("key_type", "0"), in("value_type", "0"),
		vc("key_value", 128, "''"), in("expires", "0")}},
}

// TableByName finds one of Tables.
func TableByName(name string) (Table, bool) {
	for _, t := range Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

func (c Column) sqlType(d Dialect) string {
	if d == MySQL {
		if c.my != "" {
			return c.my
		}
		switch c.kind {
		case kSerial:
			return "INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY"
		case kVarchar:
			return fmt.Sprintf("VARCHAR(%d)", c.size)
		case kInt:
			return "INT(11)"
		case kUint:
			return "INT(10) UNSIGNED"
		case kSmallint:
			return "SMALLINT(5) UNSIGNED"
		case kReal:
			return "FLOAT(10,2)"
		case kTime:
			return "DATETIME"
		case kText:
			return "TEXT"
		}
	}
	switch c.kind {
	case kSerial:
		return "SERIAL PRIMARY KEY"
	case kVarchar:
		return fmt.Sprintf("VARCHAR(%d)", c.size)
	case kInt, kUint:
		return "INTEGER"
	case kSmallint:
		return "SMALLINT"
	case kReal:
		return "REAL"
	case kTime:
		return "TIMESTAMP WITHOUT TIME ZONE"
	}
	return "TEXT"
}

// CreateSQL is the DDL that creates the table and its indexes and
// records its version, one statement per element.
func (t Table) CreateSQL(d Dialect) []string {
	q := func(s string) string {
		if d == MySQL {
			return "`" + s + "`"
		}
		return s
	}
	idx := func(name string) string {
		if d == Postgres {
			return t.Name + "_" + name
		}
		return name
	}
	cols := func(cs []string) string {
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = q(c)
		}
		return strings.Join(out, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE %s (\n", q(t.Name))
	for i, c := range t.Columns {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, "    %s %s", q(c.Name), c.sqlType(d))
		if c.Default != "" {
			b.WriteString(" DEFAULT " + c.Default)
		}
		if !c.Null {
			b.WriteString(" NOT NULL")
		}
	}
	for _, u := range t.Unique {
		fmt.Fprintf(&b, ",\n    CONSTRAINT %s UNIQUE (%s)", idx(u.Name), cols(u.Columns))
	}
	b.WriteString("\n)")
	out := []string{b.String()}
	for _, x := range t.Indexes {
		out = append(out, fmt.Sprintf("CREATE INDEX %s ON %s (%s)", idx(x.Name), t.Name, cols(x.Columns)))
	}
	out = append(out, fmt.Sprintf("INSERT INTO version (table_name, table_version) values ('%s','%d')", t.Name, t.Version))
	return out
}

// Init creates the tables that do not exist yet, in one transaction
// where the dialect allows it (PostgreSQL; MySQL commits each CREATE).
// It returns the names of the tables it created and of those it found.
// A table that exists is left as it is, whatever its columns.
func (d *DB) Init(tables []Table) (created, existing []string, err error) {
	have := map[string]bool{}
	q := "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
	if d.Dialect == MySQL {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
	}
	rows, cancel, err := d.Query(q)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			cancel()
			return nil, nil, fmt.Errorf("sqldb: %s: listing tables: %w", d.URL, err)
		}
		have[strings.ToLower(n)] = true
	}
	rows.Close()
	cancel()
	if _, ok := TableByName("version"); ok && !have["version"] {
		// version first: every other table records itself in it.
		v, _ := TableByName("version")
		tables = append([]Table{v}, tables...)
	}
	ctx, cancel2 := d.Ctx()
	defer cancel2()
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("sqldb: %s: %w", d.URL, err)
	}
	done := map[string]bool{}
	for _, t := range tables {
		if done[t.Name] {
			continue
		}
		done[t.Name] = true
		if have[t.Name] {
			existing = append(existing, t.Name)
			continue
		}
		for _, s := range t.CreateSQL(d.Dialect) {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				tx.Rollback()
				return nil, nil, fmt.Errorf("sqldb: %s: creating table %s: %q: %w", d.URL, t.Name, s, err)
			}
		}
		created = append(created, t.Name)
	}
	if err := tx.Commit(); err != nil {
		return nil, nil, fmt.Errorf("sqldb: %s: %w", d.URL, err)
	}
	return created, existing, nil
}

// CheckVersion compares the `version` row of table (configured under
// any name) with the version of Kamailio 5.6's layout of model that kemi
// reads (Tables), as Kamailio's modules do at start. It returns "" when they match, or a sentence saying what
// differs (no version table, no row, another version); the caller logs
// it as a warning: kemi reads the columns it needs by name, so an older
// layout often works, but the operator should know. A table kemi has no
// model for gives "".
func (d *DB) CheckVersion(table, model string) string {
	want, ok := TableByName(model)
	if !ok {
		return ""
	}
	ctx, cancel := d.Ctx()
	defer cancel()
	var got int
	err := d.DB.QueryRowContext(ctx, d.Rebind("SELECT table_version FROM version WHERE table_name = ?"), table).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Sprintf("%s: table %s has no row in the version table; kemi reads Kamailio's version %d layout", d.URL, table, want.Version)
	case err != nil:
		return fmt.Sprintf("%s: reading the version of table %s: %v", d.URL, table, err)
	case got != want.Version:
		return fmt.Sprintf("%s: table %s is version %d; kemi reads Kamailio's version %d layout", d.URL, table, got, want.Version)
	}
	return ""
}
