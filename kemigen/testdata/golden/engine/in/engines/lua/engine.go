// Package luaengine shows that the generator reads the package clause.
package luaengine
