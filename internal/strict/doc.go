// Package strict decodes loosely typed YAML maps into structs, refusing
// unknown keys and wrong types with errors that name the key, and the
// nearest known key for a typo.
package strict
