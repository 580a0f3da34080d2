"""Plumbing shared by the six services: settings, logging, errors, Kafka, Mongo, health."""
