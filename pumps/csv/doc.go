// Package csv is the csv sink: iam-compatible hourly CSV files.
package csv
