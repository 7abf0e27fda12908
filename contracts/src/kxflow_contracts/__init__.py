"""kxflow's shared contract: topics, the CloudEvents envelope, commands, results and the catalog.

This package is the only code the services share (DESIGN.md §1). The pure contract lives at the
top level; ``kxflow_contracts.runtime`` holds the Kafka/Mongo/HTTP plumbing every service needs
(DLQ middleware, action ledger, auth, logging) so that no service writes that logic twice.
"""
