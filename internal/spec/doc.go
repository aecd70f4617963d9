// Package spec reads a settings struct as its one declaration: the yaml tag
// names a key, the value a constructor put there is its default, a help tag
// gives one line of help and required:"true" marks a key that must be set.
// From that it builds the rows of a settings table and a JSON Schema
// (draft 2020-12), so that `pump plugins`, the README tables and `pump
// schema` never restate what the struct says.
package spec
