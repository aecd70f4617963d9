// Package http is the http sink: it sends each batch of analytics records
// in one request (a JSON array or NDJSON, optionally gzipped) to an HTTP
// endpoint, retries what a server may accept later (408, 429, 5xx, honouring
// Retry-After) and reports any other refusal as permanent.
package http
