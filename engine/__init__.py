"""ShaleDB: DynamoDB's data model and API as an embeddable library on its own LSM-tree engine."""
