package testsvc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SQL is one running database server (PostgreSQL or MariaDB) with an
// empty database "kamailio" and a user "kamailio" (password
// "kamailiorw", Kamailio's kamdbctl defaults) that owns it.
type SQL struct {
	// Engine is "postgres" or "mysql", the db_url scheme.
	Engine string
	Port   int
	// Dir is the throwaway folder holding the data and the unix socket.
	Dir string
	// Socket is the unix socket (MariaDB) or the socket folder (PostgreSQL).
	Socket string

	t    testing.TB
	bins map[string]string
	cred *syscall.Credential

	mu       sync.Mutex
	cmd      *exec.Cmd
	log      *bytes.Buffer
	waitDone chan struct{}
}

const (
	sqlUser = "kamailio"
	sqlPass = "kamailiorw"
	sqlDB   = "kamailio"
)

// URL is the Kamailio-form db_url of the database "kamailio":
// postgres://kamailio:kamailiorw@127.0.0.1:PORT/kamailio or the same
// with mysql://.
func (s *SQL) URL() string {
	return fmt.Sprintf("%s://%s:%s@127.0.0.1:%d/%s", s.Engine, sqlUser, sqlPass, s.Port, sqlDB)
}

// Addr is host:port.
func (s *SQL) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// pgBin finds the newest /usr/lib/postgresql/*/bin/NAME.
func pgBin(name string) string {
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(m) == 0 {
		return ""
	}
	sort.Slice(m, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m[j]))))
		return vi < vj
	})
	return m[len(m)-1]
}

func needPath(t testing.TB, p, what, pkg string) string {
	t.Helper()
	if p == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("testsvc: %s is missing (package %s; scripts/deps.sh installs it)", what, pkg)
		}
		t.Skipf("testsvc: %s is missing (apt-get install %s)", what, pkg)
	}
	return p
}

// NeedPostgres fails (CI=true) or skips the test when PostgreSQL's
// server binaries are missing.
func NeedPostgres(t testing.TB) {
	t.Helper()
	needPath(t, pgBin("postgres"), "/usr/lib/postgresql/*/bin/postgres", "postgresql")
	need(t, "psql", "postgresql-client")
}

// NeedMariaDB fails (CI=true) or skips the test when mariadbd is missing.
func NeedMariaDB(t testing.TB) {
	t.Helper()
	need(t, "mariadbd", "mariadb-server")
	need(t, "mariadb-install-db", "mariadb-server")
	need(t, "mariadb", "mariadb-client")
}

// serverDir makes a throwaway folder the server's user can own. As
// root, PostgreSQL refuses to run, so the server runs as the user
// "postgres" (or "nobody") and the folder is handed to it.
func serverDir(t testing.TB, prefix string, asUser string) (string, *syscall.Credential) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() != 0 || asUser == "" {
		return dir, nil
	}
	var cred *syscall.Credential
	for _, name := range []string{asUser, "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		break
	}
	if cred == nil {
		t.Fatalf("testsvc: running as root and neither %q nor nobody exists to run the server", asUser)
	}
	os.Chmod(dir, 0o755)
	os.Chown(dir, int(cred.Uid), int(cred.Gid))
	return dir, cred
}

func (s *SQL) command(bin string, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	if s.cred != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	c.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	return c
}

func (s *SQL) run(bin string, args ...string) {
	s.t.Helper()
	out, err := s.command(bin, args...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("testsvc: %s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// StartPostgres runs a PostgreSQL server (trust authentication, fsync
// off) on a free 127.0.0.1 port with its socket in a temp folder, makes
// the superuser "kamailio" and the empty database "kamailio", and stops
// it when the test ends.
func StartPostgres(t testing.TB) *SQL {
	t.Helper()
	NeedPostgres(t)
	dir, cred := serverDir(t, "kemi-pg-", "postgres")
	s := &SQL{Engine: "postgres", Dir: dir, Socket: dir, t: t, cred: cred,
		bins: map[string]string{"initdb": pgBin("initdb"), "postgres": pgBin("postgres"), "psql": "psql"}}
	s.run(s.bins["initdb"], "-D", filepath.Join(dir, "data"), "-U", sqlUser, "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	t.Cleanup(s.Stop)
	s.startOnFreePort()
	s.psql("postgres", "-c", "CREATE DATABASE "+sqlDB)
	return s
}

// StartMariaDB runs a MariaDB server on a free 127.0.0.1 port with a
// temp data folder, makes the database "kamailio" and the user
// "kamailio"@"%" (password "kamailiorw") with all rights on it, and
// stops it when the test ends.
func StartMariaDB(t testing.TB) *SQL {
	t.Helper()
	NeedMariaDB(t)
	dir, cred := serverDir(t, "kemi-my-", "")
	s := &SQL{Engine: "mysql", Dir: dir, Socket: filepath.Join(dir, "mysqld.sock"), t: t, cred: cred,
		bins: map[string]string{"mariadbd": "mariadbd", "mariadb": "mariadb"}}
	args := []string{"--no-defaults", "--datadir=" + filepath.Join(dir, "data"),
		"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}
	args = append(args, mariadbLight...)
	if os.Geteuid() == 0 {
		args = append(args, "--user=root")
	}
	// mariadb-install-db fails now and then on a loaded machine
	// (bootstrap timing); a second try in a clean folder works.
	if out, err := s.command("mariadb-install-db", args...).CombinedOutput(); err != nil {
		t.Logf("testsvc: mariadb-install-db failed, trying again: %v\n%s", err, firstLines(out, 15))
		os.RemoveAll(filepath.Join(dir, "data"))
		s.run("mariadb-install-db", args...)
	}
	t.Cleanup(s.Stop)
	s.startOnFreePort()
	s.mariadb("", "-e", fmt.Sprintf(
		"CREATE DATABASE %[1]s CHARACTER SET utf8mb4; CREATE USER '%[2]s'@'%%' IDENTIFIED BY '%[3]s'; "+
			"CREATE USER '%[2]s'@'localhost' IDENTIFIED BY '%[3]s'; "+
			"GRANT ALL ON %[1]s.* TO '%[2]s'@'%%'; GRANT ALL ON %[1]s.* TO '%[2]s'@'localhost'; FLUSH PRIVILEGES;",
		sqlDB, sqlUser, sqlPass))
	return s
}

// mariadbLight keeps MariaDB small and steady on a loaded 2-core
// machine: no io_uring/libaio (its set-up fails or stalls when many
// servers start at once), a small buffer pool and redo log (the
// default 96 MB log takes seconds to create), few open tables.
var mariadbLight = []string{"--innodb-use-native-aio=0", "--innodb-buffer-pool-size=16M",
	"--innodb-log-file-size=8M", "--table-open-cache=200", "--open-files-limit=1024"}

// startOnFreePort starts the server for the first time, on a new free
// port each attempt while it exits at start (its port taken by another
// test between FreePort and the bind).
func (s *SQL) startOnFreePort() {
	s.t.Helper()
	for i := 1; ; i++ {
		s.Port = pickPort(s.t)
		err := s.start()
		if err == nil {
			return
		}
		if !errors.Is(err, errExited) || i == startAttempts {
			s.t.Fatal(err)
		}
		s.t.Logf("testsvc: attempt %d: %s; trying another port", i, lastLines(err.Error(), 4))
	}
}

// Start starts a stopped server again on the same port and data. If
// the server exits at start (the port taken meanwhile), it tries again
// for a few seconds before failing the test.
func (s *SQL) Start() {
	s.t.Helper()
	var err error
	for i := 0; i < 10; i++ {
		if err = s.start(); err == nil || !errors.Is(err, errExited) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

func (s *SQL) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	if s.Engine != "postgres" {
		// Each attempt's log on its own: an old attempt's bind error
		// must not show under a new one.
		os.Remove(filepath.Join(s.Dir, "error.log"))
	}
	s.log = new(bytes.Buffer)
	port := strconv.Itoa(s.Port)
	switch s.Engine {
	case "postgres":
		s.cmd = s.command(s.bins["postgres"], "-D", filepath.Join(s.Dir, "data"),
			"-p", port, "-h", "127.0.0.1", "-k", s.Dir,
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "shared_buffers=16MB")
	default:
		args := []string{"--no-defaults", "--datadir=" + filepath.Join(s.Dir, "data"),
			"--port=" + port, "--bind-address=127.0.0.1", "--socket=" + s.Socket,
			"--pid-file=" + filepath.Join(s.Dir, "mysqld.pid"), "--skip-name-resolve",
			"--innodb-flush-log-at-trx-commit=0",
			"--innodb-doublewrite=0", "--skip-log-bin", "--max-connections=200",
			"--log-error=" + filepath.Join(s.Dir, "error.log")}
		args = append(args, mariadbLight...)
		if os.Geteuid() == 0 {
			args = append(args, "--user=root")
		}
		s.cmd = s.command(s.bins["mariadbd"], args...)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		path := s.cmd.Path
		s.cmd = nil
		return fmt.Errorf("testsvc: start %s: %v", path, err)
	}
	s.waitDone = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { c.Wait(); close(done) }(s.cmd, s.waitDone)
	// A loaded machine can take long over crash recovery or the first
	// start; a server that is still starting is given a minute and a half.
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if s.ping() == nil {
			return nil
		}
		select {
		case <-s.waitDone:
			s.cmd = nil
			return fmt.Errorf("testsvc: %s on port %d %w:\n%s%s", s.Engine, s.Port, errExited, s.log, s.errorLog())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("testsvc: %s did not answer on %d:\n%s%s", s.Engine, s.Port, s.log, s.errorLog())
}

func (s *SQL) errorLog() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "error.log"))
	return string(b)
}

func (s *SQL) ping() error {
	switch s.Engine {
	case "postgres":
		_, err := s.cli("postgres", "-c", "SELECT 1")
		return err
	default:
		_, err := s.cli("", "-e", "SELECT 1")
		return err
	}
}

// Stop stops the server (fast shutdown, SIGKILL after 10 s). Its data stays,
// so Start brings it back as it was.
func (s *SQL) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	// SIGINT is PostgreSQL's fast shutdown (SIGTERM waits for every
	// client to leave); mariadbd shuts down on SIGTERM.
	if s.Engine == "postgres" {
		s.cmd.Process.Signal(syscall.SIGINT)
	} else {
		s.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-s.waitDone:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.waitDone
	}
	s.cmd = nil
}

// Pause stops the server process with SIGSTOP (connections hang rather
// than fail); Resume continues it.
func (s *SQL) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *SQL) Resume() { s.signal(syscall.SIGCONT) }

func (s *SQL) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Signal(sig)
	}
}

// Log is what the server printed so far.
func (s *SQL) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String() + s.errorLog()
}

// cli runs the engine's command-line client as the admin over the unix
// socket against database db ("" = none for MariaDB) and returns its
// output: tab-separated rows without a header.
func (s *SQL) cli(db string, args ...string) (string, error) {
	var c *exec.Cmd
	switch s.Engine {
	case "postgres":
		if db == "" {
			db = sqlDB
		}
		c = exec.Command("psql", append([]string{"-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
			"-h", s.Dir, "-p", strconv.Itoa(s.Port), "-U", sqlUser, "-d", db}, args...)...)
	default:
		a := []string{"--no-defaults", "-uroot", "--socket=" + s.Socket, "-N", "-B", "--connect-timeout=2"}
		if db != "" {
			a = append(a, "-D", db)
		}
		c = exec.Command("mariadb", append(a, args...)...)
	}
	c.Env = append(os.Environ(), "LC_ALL=C", "PGCONNECT_TIMEOUT=2")
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	if err := c.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %v: %s", s.Engine, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (s *SQL) psql(db string, args ...string) {
	s.t.Helper()
	if _, err := s.cli(db, args...); err != nil {
		s.t.Fatalf("testsvc: %v", err)
	}
}

func (s *SQL) mariadb(db string, args ...string) {
	s.t.Helper()
	if _, err := s.cli(db, args...); err != nil {
		s.t.Fatalf("testsvc: %v", err)
	}
}

// Exec runs SQL statements (separated by ';') in the database
// "kamailio" as the admin and fails the test on error.
func (s *SQL) Exec(sql string) {
	s.t.Helper()
	if _, err := s.Query(sql); err != nil {
		s.t.Fatal(err)
	}
}

// Query runs SQL in the database "kamailio" and returns the client's
// output: one line per row, columns separated by tabs, no header.
func (s *SQL) Query(sql string) (string, error) {
	if s.Engine == "postgres" {
		return s.cli(sqlDB, "-c", sql)
	}
	return s.cli(sqlDB, "-e", sql)
}

// LoadFile runs an SQL file (such as Kamailio's
// /usr/share/kamailio/postgres/standard-create.sql) in the database
// "kamailio" and fails the test on error.
func (s *SQL) LoadFile(path string) {
	s.t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			s.t.Fatalf("testsvc: schema file %s: %v", path, err)
		}
		s.t.Skipf("testsvc: schema file %s: %v", path, err)
	}
	var err error
	if s.Engine == "postgres" {
		_, err = s.cli(sqlDB, "-f", path)
	} else {
		b, rerr := os.ReadFile(path)
		if rerr != nil {
			s.t.Fatal(rerr)
		}
		_, err = s.cli(sqlDB, "-e", string(b))
	}
	if err != nil {
		s.t.Fatalf("testsvc: load %s: %v", path, err)
	}
}

// KamailioSchemaDir is where Debian's kamailio-{postgres,mysql}-modules
// put Kamailio's schema files for this engine.
func (s *SQL) KamailioSchemaDir() string {
	if s.Engine == "postgres" {
		return "/usr/share/kamailio/postgres"
	}
	return "/usr/share/kamailio/mysql"
}

// LoadKamailioSchema loads Kamailio's own schema files, as kamdbctl
// does: standard-create.sql first, then each named module's
// NAME-create.sql (e.g. "auth_db", "usrloc", "permissions").
func (s *SQL) LoadKamailioSchema(modules ...string) {
	s.t.Helper()
	s.LoadFile(filepath.Join(s.KamailioSchemaDir(), "standard-create.sql"))
	for _, m := range modules {
		s.LoadFile(filepath.Join(s.KamailioSchemaDir(), m+"-create.sql"))
	}
}

// AllSQLEngines runs f once against a fresh PostgreSQL and once against
// a fresh MariaDB, each in its own subtest named after the engine.
func AllSQLEngines(t *testing.T, f func(t *testing.T, s *SQL)) {
	t.Run("postgres", func(t *testing.T) { f(t, StartPostgres(t)) })
	t.Run("mysql", func(t *testing.T) { f(t, StartMariaDB(t)) })
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// lastLines is the last n non-empty lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
