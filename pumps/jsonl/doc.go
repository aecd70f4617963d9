// Package jsonl is the jsonl sink: one JSON object per line, with iam's json
// field names, appended to one file.
package jsonl
