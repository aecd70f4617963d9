// Package kafka is the kafka sink: it produces each analytics record as a
// JSON message (iam-pump's format) to a Kafka topic and returns from Write
// only when the brokers have acknowledged the whole batch.
package kafka
