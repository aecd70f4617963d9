// Package redact keeps secrets out of logs, `pump validate --print` and
// error messages. It is the one place that knows what a secret looks like:
// the configuration redacts its tree with it, and every sink scrubs its
// errors with it.
//
// The rules go by shape first and by key name second, since a secret hides
// in places no key name announces: every user-info of every URL (in a
// comma-separated list too), every query and fragment value, every
// password= of a key=value DSN, every header value, and the values of keys
// that name a secret (password, token, api_key, ...).
package redact
