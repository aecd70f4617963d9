// Package elasticsearch is the elasticsearch sink: it indexes each record as
// a document whose _id is the record's stable id, through the _bulk API of
// Elasticsearch (or OpenSearch), and reports documents the cluster refuses
// one by one.
package elasticsearch
