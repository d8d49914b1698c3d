package main

import (
	"fmt"
	"os"

	"kemi/core/config"
	"kemi/internal/sqldb"
)

// sqlURL finds the SQL database a command works on: the -db-url flag,
// else $KEMI_DB_URL, else the db_url of the config file given with -f
// (auth_db's first, then any module's postgres:// or mysql:// db_url).
// "" means none: the command works on kemi's own database file.
func sqlURL(flagURL, cfgPath string) (string, error) {
	if flagURL != "" {
		if !sqldb.IsSQL(flagURL) {
			return "", fmt.Errorf("-db-url %q: want postgres://user:password@host:port/db or mysql://...", flagURL)
		}
		return flagURL, nil
	}
	if u := os.Getenv("KEMI_DB_URL"); u != "" {
		if !sqldb.IsSQL(u) {
			return "", fmt.Errorf("$KEMI_DB_URL %q: want postgres://user:password@host:port/db or mysql://...", u)
		}
		return u, nil
	}
	if cfgPath == "" {
		return "", nil
	}
	cfg, err := config.Load(cfgPath, config.Options{})
	if err != nil {
		return "", err
	}
	found := ""
	for _, mp := range cfg.ModParams {
		if mp.Name != "db_url" || !sqldb.IsSQL(mp.Value.S) {
			continue
		}
		if mp.Module == "auth_db" {
			return mp.Value.S, nil
		}
		if found == "" {
			found = mp.Value.S
		}
	}
	if found == "" {
		return "", fmt.Errorf("%s: no modparam db_url with a postgres:// or mysql:// URL", cfgPath)
	}
	return found, nil
}
