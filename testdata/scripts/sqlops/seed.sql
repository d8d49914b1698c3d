DROP TABLE IF EXISTS sqlops_users;
CREATE TABLE sqlops_users (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL, note VARCHAR(64));
INSERT INTO sqlops_users (id, name, note) VALUES (1, 'alice', 'first'), (2, 'bob', NULL), (3, 'carol', 'third');
