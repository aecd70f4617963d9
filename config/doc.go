// Package config loads the pump's configuration: an iam-pump YAML file
// (which works unchanged), ${VAR} expansion, IAM_PUMP_* environment
// overrides and command-line flags, in that order of precedence from lowest
// to highest. Every key is checked: an unknown key, a wrong type or an
// impossible value is an error naming the key, before anything connects.
package config
