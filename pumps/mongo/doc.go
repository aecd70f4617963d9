// Package mongo is the mongo sink: one MongoDB document per record, with
// iam-pump's field names and an _id derived from the record's bytes so that
// records delivered again are not stored twice.
package mongo
