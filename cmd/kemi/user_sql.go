package main

import (
	"fmt"

	"kemi/exports/auth"
	"kemi/internal/sqldb"
	"kemi/internal/store"
)

// sqlUsers is Kamailio's subscriber table, as kamctl add/rm/show use it.
type sqlUsers struct {
	*sqldb.DB
}

func openSQLUsers(url string) (*sqlUsers, error) {
	db, err := sqldb.Open(url, sqldb.Options{Workers: 1})
	if err != nil {
		return nil, err
	}
	return &sqlUsers{db}, nil
}

// Put adds or updates a subscriber: ha1 and ha1b as kamctl computes
// them, the password only when s.Password is set (--plain).
func (u *sqlUsers) Put(s store.Subscriber, pw string) error {
	ha1b := auth.HA1(auth.MD5, s.User+"@"+s.Domain, s.Domain, pw)
	q := u.Upsert("subscriber", []string{"username", "domain", "password", "ha1", "ha1b"}, []string{"username", "domain"})
	if _, err := u.Exec(q, s.User, s.Domain, s.Password, s.HA1, ha1b); err != nil {
		return err
	}
	return nil
}

// Delete removes a subscriber; one that is not there is an error.
func (u *sqlUsers) Delete(user, domain string) error {
	r, err := u.Exec("DELETE FROM subscriber WHERE username = ? AND domain = ?", user, domain)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%s@%s is not in %s's subscriber table", user, domain, u.URL)
	}
	return nil
}

// List reads every subscriber, secrets only as far as List shows their kind.
func (u *sqlUsers) List() ([]store.Subscriber, error) {
	rows, done, err := u.Query("SELECT username, domain, password, ha1 FROM subscriber ORDER BY username, domain")
	if err != nil {
		return nil, err
	}
	defer done()
	defer rows.Close()
	var out []store.Subscriber
	for rows.Next() {
		var s store.Subscriber
		if err := rows.Scan(&s.User, &s.Domain, &s.Password, &s.HA1); err != nil {
			return nil, fmt.Errorf("%s: subscriber: %w", u.URL, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
