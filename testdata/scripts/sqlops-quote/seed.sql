DROP TABLE IF EXISTS quote_notes;
CREATE TABLE quote_notes (id INTEGER NOT NULL PRIMARY KEY, note VARCHAR(128));
INSERT INTO quote_notes (id, note) VALUES (100, 'seed');
