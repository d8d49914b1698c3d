package usrloc

import "errors"

func openSQL(u *Usrloc, dbURL string, workers int) (backend, error) {
	return nil, errors.New(`modparam("usrloc", "db_url", ...): SQL databases are not supported yet`)
}
